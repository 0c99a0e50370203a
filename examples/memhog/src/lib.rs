//! Allocates `?mb=N` MiB and touches every page, to exercise the memory limit.

use gust_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    let mb: usize = req.query("mb").and_then(|v| v.parse().ok()).unwrap_or(1);
    let mut blocks = Vec::new();
    for _ in 0..mb {
        blocks.push(vec![1u8; 1024 * 1024]);
    }
    let total: usize = blocks.iter().map(|b| b.len()).sum();
    Response::text(format!("allocated {} MiB\n", total / (1024 * 1024)))
}

gust_sdk::export_handler!(handle);
