//! `palaver-bench`: a load generator for the Palaver chat server. It drives a running
//! server over real WebSockets with the wire protocol and reports one JSON line on stdout
//! and a human table on stderr. See BENCHMARKS.md and bench/scenarios/.

mod admin;
mod burst;
mod cli;
mod conn;
mod idle;
mod load;
mod procstat;
mod promtext;
mod push_sink;
mod report;
mod search;
mod soak;
mod stats;
mod storm;
mod threads;
mod track;
mod wire;
mod ws;

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::json;

use cli::{Cli, Mode};

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.common.threads.max(1))
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut report = runtime.block_on(async {
        match &cli.mode {
            Mode::Load(args) => load::run(&cli.common, args).await,
            Mode::Idle(args) => idle::run(&cli.common, args).await,
            Mode::Storm(args) => storm::run(&cli.common, args).await,
            Mode::Soak(args) => soak::run(&cli.common, args).await,
            Mode::Burst(args) => burst::run(&cli.common, args).await,
            Mode::Search(args) => search::run(&cli.common, args).await,
        }
    })?;
    if !cli.common.label.is_empty() {
        report.field("label", json!(cli.common.label));
    }
    eprint!("{}", report.table());
    println!("{}", report.json_line());
    Ok(())
}
