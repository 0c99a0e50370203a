//! Progress for what may take a while (uploads, builds): drawn on stderr once it has taken a
//! second, and never when stdout is not a terminal (a script, a pipe, a CI log).

use std::io::IsTerminal;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long something runs before its progress is shown: quicker work shows nothing.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A bar for `total` bytes.
pub fn bar(total: u64, message: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {eta}")
        .expect("a valid template");
    shown_later(ProgressBar::new(total).with_style(style), message)
}

/// A spinner for work of unknown length.
pub fn spinner(message: &str) -> ProgressBar {
    let style =
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("a valid template");
    shown_later(ProgressBar::new_spinner().with_style(style), message)
}

fn shown_later(bar: ProgressBar, message: &str) -> ProgressBar {
    bar.set_draw_target(ProgressDrawTarget::hidden());
    bar.set_message(message.to_string());
    if std::io::stdout().is_terminal() {
        let shown = bar.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SHOW_AFTER).await;
            if !shown.is_finished() {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(120));
            }
        });
    }
    bar
}

/// A request body of `bytes` that moves `bar` as it is sent.
pub fn body(bytes: Vec<u8>, bar: ProgressBar) -> reqwest::Body {
    const CHUNK: usize = 256 * 1024;
    let bytes = Bytes::from(bytes);
    let chunks: Vec<Bytes> = (0..bytes.len())
        .step_by(CHUNK)
        .map(|start| bytes.slice(start..bytes.len().min(start + CHUNK)))
        .collect();
    let stream = futures::stream::iter(chunks).map(move |chunk| {
        bar.inc(chunk.len() as u64);
        Ok::<_, std::io::Error>(chunk)
    });
    reqwest::Body::wrap_stream(stream)
}
