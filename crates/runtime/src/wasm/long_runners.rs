//! The runtime where guests that compute for long go on, apart from the one that serves
//! HTTP and the admin API.
//!
//! A guest starts on the request's own task (no hand-over: most answer in well under a
//! millisecond). One still computing at an epoch tick is moved here, so that however many
//! guests spin, the gateway's threads stay free for `/healthz`, `/v1` and short functions, and
//! the kernel shares the cores between the two pools.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

/// Names of this runtime's threads.
pub const THREAD_NAME: &str = "gust-guest";

pub fn handle() -> Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .thread_name(THREAD_NAME)
                .enable_all()
                .build()
                .expect("cannot start the runtime for long-running guests")
        })
        .handle()
        .clone()
}
