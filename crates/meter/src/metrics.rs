use std::time::Duration;

use gust_core::InvocationStatus;
use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Seconds, from half a millisecond to the 15-minute timeout.
const DURATION_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
    900.0,
];

/// The node's Prometheus metrics. Each function's handles are made once (when its version is
/// loaded), so an invocation only touches atomics.
pub struct Metrics {
    registry: Registry,
    invocations: IntCounterVec,
    duration: HistogramVec,
    cold_starts: IntCounterVec,
    throttled: IntCounterVec,
    billed_gb_seconds: CounterVec,
    instances: IntGaugeVec,
    in_flight: IntGauge,
    resident_memory: IntGauge,
    queue_depth: IntGauge,
    queue_age: prometheus::Gauge,
    log_lines_dropped: IntCounter,
    bucket_loops_stopped: IntCounter,
    trigger_events: IntCounterVec,
    trigger_lag: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        let by_function = ["function", "version"];
        let metrics = Metrics {
            invocations: IntCounterVec::new(
                Opts::new(
                    "gust_invocations_total",
                    "Invocations by function, version and how they ended",
                ),
                &["function", "version", "status"],
            )
            .expect("valid metric"),
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "gust_invocation_duration_seconds",
                    "Wall-clock duration of invocations",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &by_function,
            )
            .expect("valid metric"),
            cold_starts: IntCounterVec::new(
                Opts::new(
                    "gust_cold_starts_total",
                    "Invocations that paid for loading code or starting an instance",
                ),
                &by_function,
            )
            .expect("valid metric"),
            throttled: IntCounterVec::new(
                Opts::new(
                    "gust_throttled_total",
                    "Requests refused with 429: the function's queue was full or the wait too long",
                ),
                &by_function,
            )
            .expect("valid metric"),
            billed_gb_seconds: CounterVec::new(
                Opts::new(
                    "gust_billed_gigabyte_seconds_total",
                    "Billed GB-seconds: billed seconds times configured memory in GiB",
                ),
                &by_function,
            )
            .expect("valid metric"),
            instances: IntGaugeVec::new(
                Opts::new(
                    "gust_instances",
                    "Instances by function, version and state: warm (ready to serve) or busy (serving)",
                ),
                &["function", "version", "state"],
            )
            .expect("valid metric"),
            in_flight: IntGauge::new(
                "gust_concurrency_in_use",
                "Invocations running on this node",
            )
            .expect("valid metric"),
            resident_memory: IntGauge::new(
                "process_resident_memory_bytes",
                "Resident memory of the gust process",
            )
            .expect("valid metric"),
            queue_depth: IntGauge::new(
                "gust_async_queue_depth",
                "Asynchronous invocations waiting to run (queued or waiting for a retry)",
            )
            .expect("valid metric"),
            queue_age: prometheus::Gauge::new(
                "gust_async_queue_oldest_age_seconds",
                "Age of the oldest asynchronous invocation waiting to run",
            )
            .expect("valid metric"),
            log_lines_dropped: IntCounter::new(
                "gust_log_lines_dropped_total",
                "Log lines dropped: past an invocation's log budget, or with the log queue full",
            )
            .expect("valid metric"),
            bucket_loops_stopped: IntCounter::new(
                "gust_bucket_loops_stopped_total",
                "Bucket events not delivered: a chain of functions writing into buckets that \
                 trigger them passed 16 hops",
            )
            .expect("valid metric"),
            trigger_events: IntCounterVec::new(
                Opts::new(
                    "gust_trigger_events_total",
                    "Events a stream trigger delivered (succeeded or dead-lettered) and \
                     acknowledged to its broker",
                ),
                &["trigger", "kind"],
            )
            .expect("valid metric"),
            trigger_lag: IntGaugeVec::new(
                Opts::new(
                    "gust_trigger_lag",
                    "Events waiting in a stream trigger's broker, as the broker last said",
                ),
                &["trigger", "kind"],
            )
            .expect("valid metric"),
            registry: Registry::new(),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 14] = [
            Box::new(metrics.trigger_events.clone()),
            Box::new(metrics.trigger_lag.clone()),
            Box::new(metrics.log_lines_dropped.clone()),
            Box::new(metrics.bucket_loops_stopped.clone()),
            Box::new(metrics.throttled.clone()),
            Box::new(metrics.queue_depth.clone()),
            Box::new(metrics.queue_age.clone()),
            Box::new(metrics.invocations.clone()),
            Box::new(metrics.duration.clone()),
            Box::new(metrics.cold_starts.clone()),
            Box::new(metrics.billed_gb_seconds.clone()),
            Box::new(metrics.instances.clone()),
            Box::new(metrics.in_flight.clone()),
            Box::new(metrics.resident_memory.clone()),
        ];
        for collector in collectors {
            metrics
                .registry
                .register(collector)
                .expect("unique metric names");
        }
        metrics
    }
}

impl Metrics {
    /// The handles of one version's series.
    pub fn function(&self, function: &str, version: u32) -> FunctionMetrics {
        let version = version.to_string();
        let version = version.as_str();
        let by_status = |status: InvocationStatus| {
            self.invocations
                .with_label_values(&[function, version, status.as_str()])
        };
        FunctionMetrics {
            ok: by_status(InvocationStatus::Ok),
            error: by_status(InvocationStatus::Error),
            timeout: by_status(InvocationStatus::Timeout),
            memory_exceeded: by_status(InvocationStatus::MemoryExceeded),
            crashed: by_status(InvocationStatus::Crashed),
            throttled: self.throttled.with_label_values(&[function, version]),
            duration: self.duration.with_label_values(&[function, version]),
            cold_starts: self.cold_starts.with_label_values(&[function, version]),
            billed_gb_seconds: self
                .billed_gb_seconds
                .with_label_values(&[function, version]),
            warm: self
                .instances
                .with_label_values(&[function, version, "warm"]),
            busy: self
                .instances
                .with_label_values(&[function, version, "busy"]),
        }
    }

    /// Invocations running on the node, as its limit counts them at scrape time.
    pub fn set_in_flight(&self, running: u32) {
        self.in_flight.set(running.into());
    }

    /// The asynchronous queue as read from the store at scrape time.
    pub fn set_queue(&self, depth: u64, oldest_age: std::time::Duration) {
        self.queue_depth.set(depth as i64);
        self.queue_age.set(oldest_age.as_secs_f64());
    }

    /// Log lines dropped so far on the node, as counted at scrape time.
    pub fn set_log_lines_dropped(&self, total: u64) {
        let counted = self.log_lines_dropped.get();
        self.log_lines_dropped.inc_by(total.saturating_sub(counted));
    }

    /// A bucket event was stopped by the hop limit.
    pub fn bucket_loop_stopped(&self) {
        self.bucket_loops_stopped.inc();
    }

    /// A stream trigger delivered an event and acknowledged it.
    pub fn trigger_event(&self, trigger: &str, kind: &str) {
        self.trigger_events
            .with_label_values(&[trigger, kind])
            .inc();
    }

    /// What a stream trigger's broker says is waiting.
    pub fn set_trigger_lag(&self, trigger: &str, kind: &str, lag: u64) {
        self.trigger_lag
            .with_label_values(&[trigger, kind])
            .set(lag as i64);
    }

    /// The Prometheus text format, with the process's memory read now.
    pub fn encode(&self) -> String {
        self.resident_memory.set(resident_memory_bytes());
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("writing to a Vec cannot fail");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}

/// Resident set size from /proc/self/statm (pages of 4 KiB on the platforms Gust runs on).
fn resident_memory_bytes() -> i64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<i64>().ok())
        .unwrap_or(0);
    pages * 4096
}

/// One function's metric handles. Invocations are counted as their records are written, off
/// the request path (so a counter is not bounced between cores per request); instances are
/// set from the runtimes when scraped and by the scaler.
#[derive(Clone)]
pub struct FunctionMetrics {
    ok: IntCounter,
    error: IntCounter,
    timeout: IntCounter,
    memory_exceeded: IntCounter,
    crashed: IntCounter,
    throttled: IntCounter,
    duration: prometheus::Histogram,
    cold_starts: IntCounter,
    billed_gb_seconds: prometheus::Counter,
    warm: IntGauge,
    busy: IntGauge,
}

impl FunctionMetrics {
    /// Instances ready to serve (for Wasm: at least 1 while its code is loaded) and serving.
    pub fn set_instances(&self, warm: u32, busy: u32) {
        self.warm.set(warm.into());
        self.busy.set(busy.into());
    }

    /// The invocation paid for loading code or starting an instance.
    pub fn cold_start(&self) {
        self.cold_starts.inc();
    }

    /// A request refused with 429; it never ran and is not billed.
    pub fn throttled(&self) {
        self.throttled.inc();
    }

    pub fn finished(&self, status: InvocationStatus, duration: Duration, gb_seconds: f64) {
        match status {
            InvocationStatus::Ok => &self.ok,
            InvocationStatus::Error => &self.error,
            InvocationStatus::Timeout => &self.timeout,
            InvocationStatus::MemoryExceeded => &self.memory_exceeded,
            InvocationStatus::Crashed => &self.crashed,
        }
        .inc();
        self.duration.observe(duration.as_secs_f64());
        self.billed_gb_seconds.inc_by(gb_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_follow_invocations() {
        let metrics = Metrics::default();
        let hello = metrics.function("hello", 3);
        hello.set_instances(2, 1);
        metrics.set_in_flight(1);
        hello.throttled();
        hello.cold_start();
        hello.finished(InvocationStatus::Ok, Duration::from_millis(3), 0.5);
        let text = metrics.encode();
        for expected in [
            r#"gust_invocations_total{function="hello",status="ok",version="3"} 1"#,
            r#"gust_cold_starts_total{function="hello",version="3"} 1"#,
            r#"gust_throttled_total{function="hello",version="3"} 1"#,
            r#"gust_instances{function="hello",state="busy",version="3"} 1"#,
            r#"gust_instances{function="hello",state="warm",version="3"} 2"#,
            "gust_concurrency_in_use 1",
            r#"gust_invocation_duration_seconds_bucket{function="hello",version="3",le="0.005"} 1"#,
            r#"gust_billed_gigabyte_seconds_total{function="hello",version="3"} 0.5"#,
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert!(
            !text.contains("process_resident_memory_bytes 0\n"),
            "{text}"
        );
    }
}
