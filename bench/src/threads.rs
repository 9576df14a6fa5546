//! CPU time of a process per thread name, read from `/proc/PID/task/*/stat`, to see which
//! of the server's threads (actix workers, the main/hub thread, the database writer) is busy.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

/// Clock ticks per second of `/proc/.../stat` (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user + system) per thread, keyed `name/tid` (actix names every worker
/// alike, so the name alone does not tell them apart).
pub type ThreadCpu = BTreeMap<String, f64>;

/// Reads every thread of `pid`; `None` gives an empty map. Threads that end while being
/// read are skipped.
pub fn sample(pid: Option<u32>) -> Result<ThreadCpu> {
    let mut cpu = ThreadCpu::new();
    let Some(pid) = pid else {
        return Ok(cpu);
    };
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (name, secs) = parse(&stat)?;
        let tid = entry.file_name().to_string_lossy().into_owned();
        cpu.insert(format!("{name}/{tid}"), secs);
    }
    Ok(cpu)
}

/// The thread's name and its user + system CPU seconds.
fn parse(stat: &str) -> Result<(String, f64)> {
    let open = stat.find('(').ok_or_else(|| anyhow!("odd task stat"))?;
    let close = stat.rfind(')').ok_or_else(|| anyhow!("odd task stat"))?;
    let name = stat.get(open + 1..close).unwrap_or("?").to_string();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let ticks = |index: usize| -> Result<f64> {
        let field = fields
            .get(index)
            .ok_or_else(|| anyhow!("short task stat"))?;
        Ok(field.parse::<u64>()? as f64)
    };
    // utime and stime are fields 14 and 15 of proc(5); the slice starts at field 3.
    Ok((name, (ticks(11)? + ticks(12)?) / TICKS_PER_SECOND))
}

/// Percent of one core per thread between two samples over `secs`, busiest first,
/// leaving out threads under 1 %.
pub fn busy(before: &ThreadCpu, after: &ThreadCpu, secs: f64) -> Value {
    let mut rows: Vec<(String, f64)> = after
        .iter()
        .map(|(name, cpu)| {
            let start = before.get(name).copied().unwrap_or(0.0);
            (name.clone(), 100.0 * (cpu - start) / secs.max(1e-9))
        })
        .filter(|(_, pct)| *pct >= 1.0)
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let map: serde_json::Map<String, Value> = rows
        .into_iter()
        .map(|(name, pct)| (name, json!((pct * 10.0).round() / 10.0)))
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces() {
        let stat = "42 (actix-rt|system:0|arbiter:1) S 1 1 1 0 -1 0 0 0 0 0 250 50 0 0";
        let (name, secs) = parse(stat).expect("parses");
        assert_eq!(name, "actix-rt|system:0|arbiter:1");
        assert!((secs - 3.0).abs() < 1e-9);
    }
}
