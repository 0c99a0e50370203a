//! Per-device figures over 10 s windows of the readings' own time.

use std::collections::BTreeMap;

use serde::Serialize;

pub const WINDOW_MS: i64 = 10_000;

#[derive(Default)]
pub struct Windows {
    figures: BTreeMap<(String, i64), Figures>,
}

#[derive(Serialize, Clone, Copy)]
struct Figures {
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
}

#[derive(Serialize)]
pub struct Summary<'a> {
    device: &'a str,
    /// The window's start, in milliseconds since the epoch.
    window: i64,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    mean: f64,
}

impl Windows {
    pub fn add(&mut self, device: &str, ts: i64, temp: f64) {
        let window = ts.div_euclid(WINDOW_MS) * WINDOW_MS;
        let figures = self
            .figures
            .entry((device.to_string(), window))
            .or_insert(Figures {
                count: 0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                sum: 0.0,
            });
        figures.count += 1;
        figures.min = figures.min.min(temp);
        figures.max = figures.max.max(temp);
        figures.sum += temp;
    }

    pub fn summaries(&self) -> Vec<Summary<'_>> {
        self.figures
            .iter()
            .map(|((device, window), f)| Summary {
                device,
                window: *window,
                count: f.count,
                min: f.min,
                max: f.max,
                sum: f.sum,
                mean: f.sum / f.count as f64,
            })
            .collect()
    }
}
