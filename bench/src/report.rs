//! The run's result: one JSON line on stdout (for scripts), and a human table on stderr.

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

pub struct Report {
    fields: Vec<(String, Value)>,
}

impl Report {
    pub fn new(mode: &str) -> Report {
        Report {
            fields: vec![("mode".to_string(), json!(mode))],
        }
    }

    pub fn field(&mut self, name: &str, value: Value) {
        self.fields.push((name.to_string(), value));
    }

    pub fn json_line(&self) -> String {
        let map: Map<String, Value> = self.fields.iter().cloned().collect();
        Value::Object(map).to_string()
    }

    pub fn table(&self) -> String {
        let width = self
            .fields
            .iter()
            .map(|(name, _)| name.len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (name, value) in &self.fields {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("  {name:<width$}  {value}\n"));
        }
        out
    }
}

/// `{prefix}_p50_ms`, `_p99_ms`, `_max_ms` of a histogram in microseconds.
pub fn latency_fields(report: &mut Report, prefix: &str, histogram: &Histogram<u64>) {
    let ms = |us: u64| json!((us as f64 / 10.0).round() / 100.0);
    if histogram.is_empty() {
        report.field(&format!("{prefix}_latency"), json!("none recorded"));
        return;
    }
    report.field(
        &format!("{prefix}_p50_ms"),
        ms(histogram.value_at_quantile(0.50)),
    );
    report.field(
        &format!("{prefix}_p99_ms"),
        ms(histogram.value_at_quantile(0.99)),
    );
    report.field(&format!("{prefix}_max_ms"), ms(histogram.max()));
}
