//! Every node's view of the work bucket: what each invocation is doing, kept in memory from
//! the bucket's watch and the node's own writes, to pick due work and count the backlog
//! without reading the bucket. Every change still goes through the bucket by compare-and-set,
//! so a view a few milliseconds old costs a failed claim, never a double run.

use std::collections::HashMap;
use std::sync::Mutex;

use gust_core::AsyncState;
use gust_store::Backlog;

use super::entry::{Held, Work};

/// What the view keeps of one invocation.
#[derive(Debug, Clone)]
pub struct Summary {
    pub function: String,
    pub state: AsyncState,
    pub enqueued_at_ms: i64,
    pub next_attempt_at_ms: i64,
    pub lease: Option<Held>,
    pub body_bytes: u64,
    pub callback_pending: bool,
    pub callback_next_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub result_apart: bool,
    pub waiting: bool,
    /// The bucket's revision this was read at.
    pub revision: u64,
}

/// One function's claims: how many of its invocations run, and which are due (with when they
/// were enqueued).
#[derive(Default)]
struct Turns<'a> {
    running: u32,
    due: Vec<(i64, &'a str)>,
}

#[derive(Default)]
pub struct Index {
    view: Mutex<View>,
}

#[derive(Default)]
struct View {
    by_id: HashMap<String, Summary>,
    /// What waits, by function and in all: kept as entries come and go, as every enqueue
    /// checks it.
    backlogs: HashMap<String, Backlog>,
    all_bytes: u64,
}

impl View {
    /// Adds (`sign` 1) or takes away (-1) what `summary` holds of the backlog.
    fn count(&mut self, summary: &Summary, sign: i64) {
        if !summary.waiting {
            return;
        }
        let bytes = summary.body_bytes as i64 * sign;
        let backlog = self.backlogs.entry(summary.function.clone()).or_default();
        backlog.count = backlog.count.saturating_add_signed(sign);
        backlog.bytes = backlog.bytes.saturating_add_signed(bytes);
        self.all_bytes = self.all_bytes.saturating_add_signed(bytes);
    }
}

impl Summary {
    pub fn of(work: &Work, revision: u64) -> Summary {
        let invocation = &work.invocation;
        Summary {
            function: invocation.function.clone(),
            state: invocation.state,
            enqueued_at_ms: invocation.enqueued_at_ms,
            next_attempt_at_ms: invocation.next_attempt_at_ms,
            lease: work.lease.clone(),
            body_bytes: work.body_bytes,
            callback_pending: work.callback_pending,
            callback_next_at_ms: work.callback_next_at_ms,
            finished_at_ms: invocation.finished_at_ms,
            result_apart: work.result_apart,
            waiting: work.is_waiting(),
            revision,
        }
    }

    fn is_due(&self, now_ms: i64) -> bool {
        match self.state {
            AsyncState::Queued => true,
            AsyncState::Failed => self.next_attempt_at_ms <= now_ms,
            _ => false,
        }
    }
}

impl Index {
    /// Takes what the bucket says of `id` at `revision` (None: deleted), unless the view has
    /// seen a later revision already.
    pub fn apply(&self, id: &str, summary: Option<Summary>, revision: u64) {
        let mut view = self.lock();
        if view
            .by_id
            .get(id)
            .is_some_and(|known| known.revision > revision)
        {
            return;
        }
        let replaced = match &summary {
            Some(summary) => view.by_id.insert(id.to_string(), summary.clone()),
            None => view.by_id.remove(id),
        };
        if let Some(replaced) = replaced {
            view.count(&replaced, -1);
        }
        if let Some(summary) = &summary {
            view.count(summary, 1);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ids of the invocations that `pick` chooses among all.
    pub fn select(&self, pick: impl Fn(&Summary) -> bool) -> Vec<(String, Summary)> {
        let view = self.lock();
        view.by_id
            .iter()
            .filter(|(_, summary)| pick(summary))
            .map(|(id, summary)| (id.clone(), summary.clone()))
            .collect()
    }

    /// What waits for `function`, and in all.
    pub fn backlog(&self, function: &str) -> Backlog {
        let view = self.lock();
        let of_function = view.backlogs.get(function).copied().unwrap_or_default();
        Backlog {
            all_bytes: view.all_bytes,
            ..of_function
        }
    }

    /// Due work to claim, as the store's contract says: functions take turns, each its oldest
    /// first, none past `per_function` running at once, `limit` in all. Each with the bytes of
    /// its body.
    pub fn due(&self, now_ms: i64, per_function: u32, limit: u32) -> Vec<(String, u64)> {
        let view = self.lock();
        let by_id = &view.by_id;
        let mut by_function: HashMap<&str, Turns> = HashMap::new();
        for (id, summary) in by_id.iter() {
            let turns = by_function.entry(&summary.function).or_default();
            if summary.state == AsyncState::Running {
                turns.running += 1;
            } else if summary.is_due(now_ms) {
                turns.due.push((summary.enqueued_at_ms, id));
            }
        }
        let mut turns: Vec<(u32, i64, &str)> = Vec::new();
        for Turns { running, mut due } in by_function.into_values() {
            due.sort_unstable();
            let share = per_function.saturating_sub(running) as usize;
            for (turn, (enqueued_at_ms, id)) in due.into_iter().take(share).enumerate() {
                turns.push((turn as u32, enqueued_at_ms, id));
            }
        }
        turns.sort_unstable();
        turns
            .into_iter()
            .take(limit as usize)
            .map(|(_, _, id)| (id.to_string(), by_id[id].body_bytes))
            .collect()
    }

    /// The earliest of `when` over the invocations `pick` chooses.
    pub fn earliest(
        &self,
        pick: impl Fn(&Summary) -> bool,
        when: impl Fn(&Summary) -> i64,
    ) -> Option<i64> {
        let view = self.lock();
        view.by_id.values().filter(|s| pick(s)).map(when).min()
    }
}
