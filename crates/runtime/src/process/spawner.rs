//! The one thread that starts sandbox helpers.
//!
//! A helper's parent-death signal fires when the *thread* that forked it exits, not the
//! process. Tokio's threads come and go (a worker that blocks becomes a blocking-pool
//! thread, which exits after 10 s idle), so helpers forked from them were killed with
//! their thread. This thread lives as long as Gust. It is also where a helper's network
//! namespace is made, so that no runtime thread ever changes its namespace for long.

use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

pub struct Spawner {
    jobs: mpsc::Sender<Job>,
}

impl Spawner {
    /// Starts the thread, inside `runtime` (tokio's child processes register with it).
    pub fn start(runtime: tokio::runtime::Handle) -> std::io::Result<Spawner> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("gust-spawner".into())
            .spawn(move || {
                let _inside = runtime.enter();
                for job in queue {
                    // One failed spawn must not stop every later one.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        Ok(Spawner { jobs })
    }

    /// Runs `job` on the spawner's thread and waits for its result. A spawn takes about a
    /// millisecond, as it did when the caller forked by itself.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (done, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = done.send(job());
        });
        self.jobs
            .send(job)
            .map_err(|_| "the spawner thread is gone".to_string())?;
        result
            .recv()
            .map_err(|_| "the spawner thread dropped a job".to_string())
    }
}
