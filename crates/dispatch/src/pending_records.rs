//! Records of finished invocations waiting for the recorder's next write.

use std::sync::Mutex;

use gust_core::InvocationRecord;
use thread_local::ThreadLocal;
use tokio::sync::Notify;

/// One buffer per thread that finishes invocations. A record is added under a lock that only
/// the writer also takes, once per write: a queue shared by every thread would move its
/// cache lines from core to core on every request.
#[derive(Default)]
pub struct PendingRecords {
    buffers: ThreadLocal<Mutex<Vec<InvocationRecord>>>,
    /// Told of the first record a thread adds after a write.
    added: Notify,
}

impl PendingRecords {
    pub fn push(&self, record: InvocationRecord) {
        // A panic while a record was pushed leaves a buffer that is still whole.
        let mut buffer = self
            .buffers
            .get_or_default()
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        buffer.push(record);
        let first = buffer.len() == 1;
        drop(buffer);
        if first {
            self.added.notify_one();
        }
    }

    /// Returns once a record was added since the last `take_into` (at once if one was).
    pub async fn added(&self) {
        self.added.notified().await
    }

    /// Moves every waiting record into `records`.
    pub fn take_into(&self, records: &mut Vec<InvocationRecord>) {
        for buffer in self.buffers.iter() {
            records.append(&mut buffer.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use gust_core::InvocationId;

    use super::*;
    use crate::recorder::tests::finished;

    fn record(id: usize) -> InvocationRecord {
        InvocationRecord {
            id: InvocationId::parse(&id.to_string()),
            ..finished("f")
        }
    }

    #[test]
    fn records_added_on_many_threads_are_all_taken_once() {
        let pending = Arc::new(PendingRecords::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let pending = pending.clone();
                std::thread::spawn(move || (0..250).for_each(|i| pending.push(record(t * 250 + i))))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let mut taken = Vec::new();
        pending.take_into(&mut taken);
        let mut ids: Vec<usize> = taken
            .iter()
            .map(|r| r.id.to_string().parse().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());
        pending.take_into(&mut taken);
        assert_eq!(taken.len(), 1000, "nothing is taken twice");
    }

    #[tokio::test]
    async fn the_writer_is_told_of_a_record_added_after_it_took_the_last() {
        let pending = PendingRecords::default();
        pending.push(record(1));
        pending.added().await;
        pending.take_into(&mut Vec::new());
        let waiting = tokio::time::timeout(Duration::from_millis(50), pending.added()).await;
        assert!(waiting.is_err(), "nothing was added since");
        pending.push(record(2));
        pending.added().await;
    }
}
