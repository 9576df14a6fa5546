//! Resident memory and CPU time of a process, read from `/proc/PID`.

use anyhow::{anyhow, Context, Result};

/// Clock ticks per second of `/proc/PID/stat` (USER_HZ, 100 on Linux x86 and arm).
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_BYTES: u64 = 4096;

/// One reading of a process's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    pub rss_bytes: u64,
    /// User plus system CPU time since the process started.
    pub cpu_secs: f64,
    /// The system (kernel) part of `cpu_secs`: syscalls, and on loopback the receiving
    /// side's TCP processing too.
    pub sys_secs: f64,
}

/// Reads `pid`'s counters; `None` pid reads nothing and gives zeros.
pub fn sample(pid: Option<u32>) -> Result<ProcSample> {
    let Some(pid) = pid else {
        return Ok(ProcSample::default());
    };
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .with_context(|| format!("reading /proc/{pid}/statm"))?;
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow!("short /proc/{pid}/statm"))?
        .parse()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("odd /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| -> Result<f64> {
        let field = fields
            .get(index)
            .ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?;
        Ok(field.parse::<u64>()? as f64)
    };
    // utime and stime are fields 14 and 15 of stat(5); `after` starts at field 3.
    let cpu_ticks = ticks(11)? + ticks(12)?;
    Ok(ProcSample {
        rss_bytes: resident * PAGE_BYTES,
        cpu_secs: cpu_ticks / TICKS_PER_SECOND,
        sys_secs: ticks(12)? / TICKS_PER_SECOND,
    })
}
