//! Invocation records packed many to a row: one row per function and commit, never spanning an
//! hour, carrying the sums that usage reads. A row per record cost more CPU on the store thread
//! (three b-trees updated per invocation) than a warm request itself.

use std::sync::Arc;

use gust_core::{InvocationId, InvocationRecord, InvocationStatus, Origin, RunKeyed, UsageGroup};
use serde::{Deserialize, Serialize};

use super::packed_writer::PackedWriter;

/// What is stored of one record. The function is the row's; the start is an offset from the
/// row's first; GB-seconds follow from billed milliseconds and memory. Enums are stored as
/// their names, so reordering them cannot change what old rows mean; fields (and `PackedId`'s
/// variants) are stored by position, so changing them needs a conversion of stored rows. Bytes
/// written cost the store thread more than anything else here, hence the compact forms.
/// `PackedWriter` writes them (serde's `Serialize` is the reference it is tested against).
#[derive(Serialize, Deserialize)]
pub struct Packed<'a> {
    #[serde(borrow)]
    pub id: PackedId<'a>,
    pub version: u32,
    pub origin: &'a str,
    pub attempt: u32,
    pub started_after_ms: u64,
    pub duration_us: u64,
    pub billed_ms: u64,
    pub memory_mb: u32,
    pub status: &'a str,
    pub cold: bool,
    pub http_status: u16,
    pub error: Option<&'a str>,
}

/// Invocation ids are ULIDs, 26 characters that are 16 bytes; any other id is kept as text.
#[derive(Serialize, Deserialize)]
pub enum PackedId<'a> {
    Ulid([u8; 16]),
    Text(&'a str),
}

impl<'a> PackedId<'a> {
    fn of(id: &'a InvocationId) -> Self {
        match id {
            InvocationId::Ulid(bytes) => PackedId::Ulid(*bytes),
            InvocationId::Text(text) => PackedId::Text(text),
        }
    }

    fn id(&self) -> InvocationId {
        match self {
            PackedId::Ulid(bytes) => InvocationId::Ulid(*bytes),
            PackedId::Text(text) => InvocationId::Text(text.to_string()),
        }
    }
}

/// The records of one version of a function in one hour, ready to be a row.
pub struct Batch<'a> {
    pub function: &'a str,
    pub version: u32,
    /// Earliest and latest start among the records.
    pub first_ms: i64,
    pub last_ms: i64,
    pub invocations: u64,
    pub errors: u64,
    pub billed_ms: u64,
    pub mb_ms: u64,
    pub records: Vec<u8>,
}

fn hour_of(started_at_ms: i64) -> i64 {
    let width = UsageGroup::Hour.bucket_ms().expect("hours have a width");
    started_at_ms.div_euclid(width)
}

/// Splits records into batches by function, version and hour, so that every time bucket of
/// usage, and every version, holds whole batches.
pub fn batches(records: &[InvocationRecord]) -> Vec<Batch<'_>> {
    let mut groups: RunKeyed<(&str, u32, i64), Vec<&InvocationRecord>> = RunKeyed::default();
    for record in records {
        let key = (
            &*record.function,
            record.version,
            hour_of(record.started_at_ms),
        );
        groups.entry(&key, |_| Vec::new()).push(record);
    }
    let mut groups = groups.into_entries();
    groups.sort_unstable_by_key(|(key, _)| *key);
    groups
        .into_iter()
        .map(|((function, version, _), group)| pack(function, version, &group))
        .collect()
}

fn pack<'a>(function: &'a str, version: u32, group: &[&InvocationRecord]) -> Batch<'a> {
    let first_ms = group.iter().map(|r| r.started_at_ms).min().unwrap_or(0);
    let mut writer = PackedWriter::new(group.len());
    for r in group {
        writer.push(&Packed {
            id: PackedId::of(&r.id),
            version: r.version,
            origin: &r.origin.to_text(),
            attempt: r.attempt,
            started_after_ms: (r.started_at_ms - first_ms) as u64,
            duration_us: r.duration_us,
            billed_ms: r.billed_ms,
            memory_mb: r.memory_mb,
            status: r.status.as_str(),
            cold: r.cold,
            http_status: r.http_status,
            error: r.error.as_deref(),
        });
    }
    Batch {
        function,
        version,
        first_ms,
        last_ms: group.iter().map(|r| r.started_at_ms).max().unwrap_or(0),
        invocations: group.len() as u64,
        errors: group
            .iter()
            .filter(|r| r.status != InvocationStatus::Ok)
            .count() as u64,
        billed_ms: group.iter().map(|r| r.billed_ms).sum(),
        mb_ms: group.iter().map(|r| r.billed_ms * r.memory_mb as u64).sum(),
        records: writer.finish(),
    }
}

/// The records of one stored batch.
pub fn unpack(
    function: &str,
    first_ms: i64,
    bytes: &[u8],
) -> Result<Vec<InvocationRecord>, String> {
    let packed: Vec<Packed> =
        postcard::from_bytes(bytes).map_err(|e| format!("unreadable invocation batch: {e}"))?;
    let function: Arc<str> = function.into();
    packed
        .into_iter()
        .map(|p| {
            Ok(InvocationRecord {
                id: p.id.id(),
                function: function.clone(),
                version: p.version,
                origin: Origin::from_text(p.origin),
                attempt: p.attempt,
                started_at_ms: first_ms + p.started_after_ms as i64,
                duration_us: p.duration_us,
                billed_ms: p.billed_ms,
                memory_mb: p.memory_mb,
                gb_seconds: InvocationRecord::gb_seconds_for(p.billed_ms, p.memory_mb),
                status: InvocationStatus::parse(p.status)
                    .ok_or_else(|| format!("unknown status {}", p.status))?,
                cold: p.cold,
                http_status: p.http_status,
                error: p.error.map(str::to_string),
            })
        })
        .collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn record(id: u32, function: &str, started_at_ms: i64) -> InvocationRecord {
        InvocationRecord {
            id: InvocationId::parse(&format!("{id:026}")),
            function: function.into(),
            version: 1,
            origin: Origin::HTTP,
            attempt: 1,
            started_at_ms,
            duration_us: 1500,
            billed_ms: 2,
            memory_mb: 128,
            gb_seconds: InvocationRecord::gb_seconds_for(2, 128),
            status: InvocationStatus::Ok,
            cold: false,
            http_status: 200,
            error: None,
        }
    }

    #[test]
    fn records_round_trip_through_a_batch() {
        let mut failed = record(2, "a", 10);
        failed.status = InvocationStatus::Timeout;
        failed.error = Some("timed out".into());
        failed.origin = Origin::new("schedule", "01JTRIGGER");
        failed.attempt = 3;
        let records = vec![record(1, "a", 5), failed];
        let batches = batches(&records);
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!((batch.first_ms, batch.last_ms), (5, 10));
        assert_eq!((batch.invocations, batch.errors), (2, 1));
        assert_eq!((batch.billed_ms, batch.mb_ms), (4, 512));
        assert_eq!(unpack("a", 5, &batch.records).unwrap(), records);
    }

    #[test]
    fn ulids_pack_to_sixteen_bytes_and_other_ids_stay_text() {
        let ulid = ulid::Ulid::new().to_string();
        let ids = [&ulid, &ulid.to_lowercase(), "not-a-ulid"].map(InvocationId::parse);
        let records: Vec<_> = ids
            .iter()
            .map(|id| InvocationRecord {
                id: id.clone(),
                ..record(1, "a", 5)
            })
            .collect();
        let batch = &batches(&records)[0];
        assert_eq!(unpack("a", 5, &batch.records).unwrap(), records);
        assert!(matches!(PackedId::of(&ids[0]), PackedId::Ulid(_)));
        assert!(matches!(PackedId::of(&ids[1]), PackedId::Text(_)));
    }

    #[test]
    fn a_batch_never_spans_functions_or_hours() {
        let hour = 3_600_000;
        let records = vec![
            record(1, "a", hour - 1),
            record(2, "a", hour),
            record(3, "b", hour),
            record(4, "a", hour + 1),
        ];
        let spans: Vec<_> = batches(&records)
            .iter()
            .map(|b| (b.function, b.first_ms, b.last_ms, b.invocations))
            .collect();
        assert_eq!(
            spans,
            [
                ("a", hour - 1, hour - 1, 1),
                ("a", hour, hour + 1, 2),
                ("b", hour, hour, 1)
            ]
        );
    }
}
