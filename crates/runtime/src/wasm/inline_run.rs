//! Running a guest on the task that waits for its response head, and only moving it to a
//! task of its own if it is still running once the head is out.
//!
//! Most functions answer and return in one go. For them, a task per request costs a task's
//! allocation and scheduling and a hand-over of the head between two tasks: about 2% of the
//! warm throughput (bench/notes.md).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::long_runners;

type Run = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A guest's run, polled in place until `until` is ready. Whatever is left of it then goes on
/// in its own task, as it does if the waiter is dropped first (a client that went away does
/// not cut a function short). A run that has computed through an epoch tick (`computing`) is
/// moved at once to the long-runners' runtime.
pub struct InlineRun {
    run: Option<Run>,
    computing: Arc<AtomicBool>,
}

impl InlineRun {
    pub fn new(run: impl Future<Output = ()> + Send + 'static, computing: Arc<AtomicBool>) -> Self {
        InlineRun {
            run: Some(Box::pin(run)),
            computing,
        }
    }

    /// Drives the run while waiting for `until`, then lets go of the run.
    pub async fn until<T>(mut self, until: impl Future<Output = T>) -> T {
        let mut until = std::pin::pin!(until);
        let value = poll_fn(|cx| {
            if let Some(run) = self.run.as_mut() {
                if run.as_mut().poll(cx).is_ready() {
                    self.run = None;
                } else if self.computing.load(Ordering::Relaxed)
                    && let Some(run) = self.run.take()
                {
                    long_runners::handle().spawn(run);
                }
            }
            until.as_mut().poll(cx)
        })
        .await;
        self.detach();
        value
    }

    fn detach(&mut self) {
        // Without a runtime (it is shutting down), the run ends here, as its task would.
        if let Some(run) = self.run.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(run);
        }
    }
}

impl Drop for InlineRun {
    fn drop(&mut self) {
        self.detach();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    fn inline(run: impl Future<Output = ()> + Send + 'static) -> InlineRun {
        InlineRun::new(run, Arc::default())
    }

    #[tokio::test]
    async fn a_run_that_ends_with_its_answer_never_leaves_the_task() {
        let (tx, rx) = oneshot::channel();
        let run = inline(async move {
            let _ = tx.send(7);
        });
        assert_eq!(run.until(rx).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_run_that_computes_through_a_tick_goes_on_among_the_long_runners() {
        let computing = Arc::new(AtomicBool::new(false));
        let (tx, rx) = oneshot::channel();
        let flag = computing.clone();
        let run = InlineRun::new(
            async move {
                // What the epoch callback does when it makes a guest yield.
                flag.store(true, Ordering::Relaxed);
                tokio::task::yield_now().await;
                let thread = std::thread::current().name().map(str::to_string);
                let _ = tx.send(thread);
            },
            computing,
        );
        let thread = run.until(rx).await.unwrap().unwrap_or_default();
        assert_eq!(thread, long_runners::THREAD_NAME);
    }

    #[tokio::test]
    async fn a_run_still_going_after_its_answer_finishes_on_its_own() {
        let (answer_tx, answer_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let run = inline(async move {
            let _ = answer_tx.send("head");
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = done_tx.send("body");
        });
        assert_eq!(run.until(answer_rx).await.unwrap(), "head");
        assert_eq!(done_rx.await.unwrap(), "body");
    }

    #[tokio::test]
    async fn dropping_the_waiter_does_not_cut_the_run_short() {
        let finished = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let run = {
            let finished = finished.clone();
            inline(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                finished.store(true, Ordering::SeqCst);
                drop(done_tx);
            })
        };
        let never = std::future::pending::<()>();
        let waited = tokio::time::timeout(Duration::from_millis(1), run.until(never)).await;
        assert!(waited.is_err(), "the waiter gave up");
        let _ = done_rx.await;
        assert!(finished.load(Ordering::SeqCst));
    }
}
