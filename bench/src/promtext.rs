//! The few figures the load report reads from the server's `/metrics` (Prometheus text):
//! a histogram's `_sum` and `_count`, so that the report can give the mean commit latency
//! and batch size over the measured window (the difference of two readings).

/// `_sum` and `_count` of one histogram, all label sets added up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SumCount {
    pub sum: f64,
    pub count: f64,
}

impl SumCount {
    /// The mean of the observations made between `earlier` and `self`, if any were made.
    pub fn mean_since(&self, earlier: &SumCount) -> Option<f64> {
        let count = self.count - earlier.count;
        (count > 0.0).then(|| (self.sum - earlier.sum) / count)
    }

    pub fn count_since(&self, earlier: &SumCount) -> f64 {
        self.count - earlier.count
    }
}

/// Reads histogram `name` out of a Prometheus text exposition; zeros when it is absent.
pub fn histogram(text: &str, name: &str) -> SumCount {
    let mut out = SumCount::default();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let metric = series.split('{').next().unwrap_or(series);
        match metric.strip_prefix(name) {
            Some("_sum") => out.sum += value,
            Some("_count") => out.count += value,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP palaver_store_commit_seconds Store commits
# TYPE palaver_store_commit_seconds histogram
palaver_store_commit_seconds_bucket{le=\"0.001\"} 3
palaver_store_commit_seconds_sum 0.25
palaver_store_commit_seconds_count 10
palaver_store_commit_batch_size_sum 40
palaver_store_commit_batch_size_count 10
palaver_webhook_seconds_sum{outcome=\"ok\"} 1.5
palaver_webhook_seconds_count{outcome=\"ok\"} 3
palaver_webhook_seconds_sum{outcome=\"timeout\"} 10
palaver_webhook_seconds_count{outcome=\"timeout\"} 2
";

    #[test]
    fn reads_sum_and_count_without_confusing_prefixes() {
        let commit = histogram(TEXT, "palaver_store_commit_seconds");
        assert_eq!(
            commit,
            SumCount {
                sum: 0.25,
                count: 10.0
            }
        );
        let batch = histogram(TEXT, "palaver_store_commit_batch_size");
        assert_eq!(
            batch,
            SumCount {
                sum: 40.0,
                count: 10.0
            }
        );
    }

    #[test]
    fn adds_up_label_sets_and_gives_zero_when_absent() {
        let webhook = histogram(TEXT, "palaver_webhook_seconds");
        assert_eq!(
            webhook,
            SumCount {
                sum: 11.5,
                count: 5.0
            }
        );
        assert_eq!(histogram(TEXT, "palaver_nothing"), SumCount::default());
    }

    #[test]
    fn the_mean_is_over_the_window_only() {
        let before = SumCount {
            sum: 1.0,
            count: 4.0,
        };
        let after = SumCount {
            sum: 4.0,
            count: 10.0,
        };
        assert_eq!(after.mean_since(&before), Some(0.5));
        assert_eq!(before.mean_since(&before), None);
    }
}
