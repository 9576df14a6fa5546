//! The server's resident memory and CPU time, sampled at a fixed interval over the soak,
//! and what they say: first, lowest, highest and last RSS, and the slope of RSS over the
//! second half of the run (least squares), which is ~0 when memory is flat.

use serde_json::{json, Value};

use crate::load::round;

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Seconds since the traffic started.
    pub at_s: f64,
    pub rss_kib: u64,
    /// The server's user + system CPU seconds since it started.
    pub cpu_s: f64,
}

/// KiB per minute, least squares over the samples of the second half of the run.
pub fn slope_kib_per_min(samples: &[Sample]) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let middle = (first.at_s + last.at_s) / 2.0;
    let half: Vec<(f64, f64)> = samples
        .iter()
        .filter(|sample| sample.at_s >= middle)
        .map(|sample| (sample.at_s / 60.0, sample.rss_kib as f64))
        .collect();
    if half.len() < 2 {
        return None;
    }
    let n = half.len() as f64;
    let mean_x = half.iter().map(|(x, _)| x).sum::<f64>() / n;
    let mean_y = half.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxx: f64 = half.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let sxy: f64 = half.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The report's RSS and CPU fields.
pub fn fields(samples: &[Sample]) -> Vec<(&'static str, Value)> {
    let mib = |kib: u64| round(kib as f64 / 1024.0);
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return vec![("server_rss", json!("not sampled (no --pid)"))];
    };
    let min = samples.iter().map(|s| s.rss_kib).min().unwrap_or(0);
    let max = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let span = last.at_s - first.at_s;
    vec![
        ("rss_first_mib", mib(first.rss_kib)),
        ("rss_min_mib", mib(min)),
        ("rss_max_mib", mib(max)),
        ("rss_last_mib", mib(last.rss_kib)),
        (
            "rss_slope_kib_per_min_second_half",
            json!(slope_kib_per_min(samples).map(round)),
        ),
        (
            "server_cpu_pct_mean",
            json!((span > 0.0).then(|| round(100.0 * (last.cpu_s - first.cpu_s) / span))),
        ),
        (
            "rss_samples_kib",
            Value::Array(
                samples
                    .iter()
                    .map(|s| json!([s.at_s.round() as u64, s.rss_kib]))
                    .collect(),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_s: f64, rss_kib: u64) -> Sample {
        Sample {
            at_s,
            rss_kib,
            cpu_s: 0.0,
        }
    }

    #[test]
    fn the_slope_looks_at_the_second_half_only() {
        // Grows in the first half (warming caches), then +10 KiB a minute.
        let samples: Vec<Sample> = (0..=10)
            .map(|minute| {
                let rss = if minute < 5 {
                    1000 * minute
                } else {
                    5000 + 10 * (minute - 5)
                };
                at(minute as f64 * 60.0, rss)
            })
            .collect();
        let slope = slope_kib_per_min(&samples).unwrap_or(f64::NAN);
        assert!((slope - 10.0).abs() < 1e-9, "slope {slope}");
        assert_eq!(slope_kib_per_min(&samples[..1]), None);
    }
}
