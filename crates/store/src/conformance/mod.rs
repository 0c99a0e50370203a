//! What every backend of a concern must do, as suites of checks. A backend's tests run the
//! suite of each concern it implements; the embedded store runs them all (sqlite/tests.rs).
//! Built for this crate's tests, and for other crates' with the `conformance` feature.

pub mod access;
pub mod artifacts;
pub mod catalog;
pub mod key_value;
pub mod pointers;
pub mod records;
pub mod schedules;
pub mod work_queue;

/// A store made for one check, and what must live as long as it (a temporary folder, say).
pub struct Fresh<S> {
    pub store: S,
    pub keep: Box<dyn std::any::Any + Send>,
}

/// Runs each check on a store of its own, saying which one failed.
macro_rules! each_on_a_fresh_store {
    ($fresh:expr, [$($check:ident),+ $(,)?]) => {
        $(
            let fresh = $fresh().await;
            eprintln!("conformance: {}", stringify!($check));
            $check(&fresh.store).await;
            drop(fresh);
        )+
    };
}
pub(crate) use each_on_a_fresh_store;
