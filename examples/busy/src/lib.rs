//! Takes time: `?spin_ms=N` burns CPU, `?sleep_ms=N` waits on a timer (0 or absent: forever
//! for `spin_ms=forever`).

use std::time::{Duration, Instant};

use gust_sdk::{Request, Response, wasi};

fn handle(req: Request) -> Response {
    if let Some(ms) = req.query("sleep_ms") {
        let ms: u64 = ms.parse().unwrap_or(0);
        wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
        return Response::text(format!("slept {ms} ms\n"));
    }
    let spin = req.query("spin_ms").unwrap_or_default();
    let until = spin
        .parse()
        .ok()
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let mut x: u64 = 0;
    while until.is_none_or(|until| Instant::now() < until) {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    Response::text(format!("spun {spin} ms ({x})\n"))
}

gust_sdk::export_handler!(handle);
