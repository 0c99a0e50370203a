//! Records: invocations and log lines read back as written, usage that sums every record,
//! and roll-ups that change no sum.

use std::sync::Arc;

use gust_core::{
    InvocationId, InvocationRecord, InvocationStatus, LogLine, LogStream, Origin, UsageGroup,
    UsageQuery, UsageSums,
};

use super::{Fresh, each_on_a_fresh_store};
use crate::Records;

pub async fn run<S: Records>(fresh: impl AsyncFn() -> Fresh<S>) {
    each_on_a_fresh_store!(
        fresh,
        [
            invocations_read_back_newest_first,
            log_lines_read_back_oldest_first,
            usage_sums_every_record_and_a_roll_up_changes_no_sum,
        ]
    );
}

pub fn record(n: u32, function: &str, started_at_ms: i64, billed_ms: u64) -> InvocationRecord {
    InvocationRecord {
        id: InvocationId::parse(&format!("{n:026}")),
        function: function.into(),
        version: 1 + n % 2,
        origin: Origin::HTTP,
        attempt: 1,
        started_at_ms,
        duration_us: billed_ms * 1000,
        billed_ms,
        memory_mb: 128,
        gb_seconds: InvocationRecord::gb_seconds_for(billed_ms, 128),
        status: InvocationStatus::Ok,
        cold: n == 1,
        http_status: 200,
        error: None,
    }
}

fn line(invocation: &str, ts_ms: i64, text: &str) -> LogLine {
    LogLine {
        invocation_id: invocation.into(),
        function: "hello".into(),
        ts_ms,
        stream: LogStream::Stdout,
        line: text.into(),
    }
}

async fn invocations_read_back_newest_first(store: &impl Records) {
    let failed = InvocationRecord {
        origin: Origin::new("schedule", "01JTRIGGER"),
        attempt: 3,
        status: InvocationStatus::Timeout,
        http_status: 504,
        error: Some("timed out".into()),
        ..record(3, "hello", 15, 1000)
    };
    let records = vec![
        record(1, "hello", 5, 2),
        record(2, "hello", 10, 3),
        failed.clone(),
        record(4, "echo", 20, 4),
    ];
    store
        .record_invocations(Arc::new(records.clone()))
        .await
        .unwrap();
    let recent = store.invocations("hello", 2).await.unwrap();
    assert_eq!(recent, [failed, records[1].clone()]);
    assert_eq!(store.invocations("nobody", 10).await.unwrap(), []);
    let invoked = store.last_invoked(8).await.unwrap();
    assert_eq!(
        invoked,
        [("echo".to_string(), 20), ("hello".to_string(), 15)]
    );
}

async fn log_lines_read_back_oldest_first(store: &impl Records) {
    let lines = vec![
        line("A", 1, "one"),
        line("B", 2, "two"),
        line("A", 3, "three"),
    ];
    store.record_logs(lines.clone()).await.unwrap();
    assert_eq!(store.logs("hello", 2).await.unwrap(), lines[1..]);
    assert_eq!(store.logs("hello", 10).await.unwrap(), lines);
    let of_a = store.invocation_logs("A").await.unwrap();
    assert_eq!(of_a, [lines[0].clone(), lines[2].clone()]);
    assert_eq!(store.invocation_logs("C").await.unwrap(), []);
}

async fn usage_sums_every_record_and_a_roll_up_changes_no_sum(store: &impl Records) {
    const HOUR: i64 = 3_600_000;
    let mut records: Vec<InvocationRecord> = (1..=40)
        .map(|n| {
            let function = if n % 4 == 0 { "echo" } else { "hello" };
            record(n, function, i64::from(n) * HOUR / 10, u64::from(n))
        })
        .collect();
    records[6].status = InvocationStatus::Error;
    store
        .record_invocations(Arc::new(records.clone()))
        .await
        .unwrap();

    let by = |group_by| UsageQuery {
        from_ms: None,
        to_ms: None,
        function: None,
        group_by,
    };
    let expected = |key: &str, of: &dyn Fn(&InvocationRecord) -> bool| {
        let mine: Vec<_> = records.iter().filter(|r| of(r)).collect();
        UsageSums {
            key: key.into(),
            invocations: mine.len() as u64,
            errors: mine
                .iter()
                .filter(|r| r.status != InvocationStatus::Ok)
                .count() as u64,
            billed_ms: mine.iter().map(|r| r.billed_ms).sum(),
            mb_ms: mine.iter().map(|r| r.billed_ms * 128).sum(),
        }
    };
    // Which group comes first is the backend's to choose.
    let sums_by_key = async |query| {
        let mut sums = store.usage(query).await.unwrap();
        sums.sort_by(|a, b| a.key.cmp(&b.key));
        sums
    };
    let by_function = vec![
        expected("echo", &|r| &*r.function == "echo"),
        expected("hello", &|r| &*r.function == "hello"),
    ];
    assert_eq!(sums_by_key(by(UsageGroup::Function)).await, by_function);
    let versions = sums_by_key(by(UsageGroup::Version)).await;
    assert_eq!(
        versions[0],
        expected("echo@1", &|r| &*r.function == "echo" && r.version == 1)
    );
    let hours = store.usage(by(UsageGroup::Hour)).await.unwrap();
    assert_eq!(hours.iter().map(|h| h.invocations).sum::<u64>(), 40);
    let one = UsageQuery {
        from_ms: Some(HOUR),
        to_ms: Some(2 * HOUR),
        function: Some("hello".into()),
        group_by: UsageGroup::Function,
    };
    let within = |r: &InvocationRecord| {
        &*r.function == "hello" && (HOUR..2 * HOUR).contains(&r.started_at_ms)
    };
    assert_eq!(
        store.usage(one.clone()).await.unwrap(),
        [expected("hello", &within)]
    );

    let folded = store.roll_up(2 * HOUR).await.unwrap();
    assert_eq!(
        folded,
        records
            .iter()
            .filter(|r| r.started_at_ms < 2 * HOUR)
            .count() as u64
    );
    assert_eq!(sums_by_key(by(UsageGroup::Function)).await, by_function);
    let newest = store.invocations("hello", 100).await.unwrap();
    assert!(
        newest.iter().all(|r| r.started_at_ms >= 2 * HOUR),
        "folded records are gone"
    );
}
