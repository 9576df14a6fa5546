//! Command-line arguments: what to drive, and each mode's knobs.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "palaver-bench",
    args_override_self = true,
    about = "Drives a running Palaver server over real WebSockets"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub mode: Mode,
}

#[derive(Args, Clone)]
pub struct Common {
    /// The server's address (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080", global = true)]
    pub server: SocketAddr,
    /// The server's admin token, for setup.
    #[arg(
        long,
        env = "PALAVER_ADMIN_TOKEN",
        default_value = "bench",
        global = true
    )]
    pub admin_token: String,
    /// The server's pid, to report its RSS and CPU time from /proc.
    #[arg(long, global = true)]
    pub pid: Option<u32>,
    /// Spread connections over source addresses 127.0.0.1 to 127.0.0.N.
    #[arg(long, default_value_t = 50, global = true)]
    pub local_ips: u32,
    /// Worker threads of the load generator.
    #[arg(long, default_value_t = 2, global = true)]
    pub threads: usize,
    /// A label copied into the report (e.g. scenario and backend).
    #[arg(long, default_value = "", global = true)]
    pub label: String,
}

#[derive(Subcommand)]
pub enum Mode {
    /// Rooms with senders and receivers: throughput, latency, loss.
    #[command(args_override_self = true)]
    Load(LoadArgs),
    /// Hold many idle connections and report the server's RSS per connection.
    #[command(args_override_self = true)]
    Idle(IdleArgs),
    /// Open authenticated connections ever faster until some fail.
    #[command(args_override_self = true)]
    Storm(StormArgs),
    /// Minutes of mixed traffic with reconnects and slow consumers; every acked message
    /// checked against what each member received, the server's RSS sampled.
    #[command(args_override_self = true)]
    Soak(SoakArgs),
    /// One message into a group of offline members with a Web Push device each: time until
    /// the last notification reaches a push service stand-in, the sender's acks meanwhile
    /// (the server must run with --push-insecure-endpoints).
    #[command(args_override_self = true)]
    Burst(BurstArgs),
    /// Fill rooms with messages through the protocol, then time `search` queries.
    #[command(args_override_self = true)]
    Search(SearchArgs),
}

#[derive(Args, Clone)]
pub struct SearchArgs {
    /// Direct rooms, each shared by one writer and the searcher.
    #[arg(long, default_value_t = 1000)]
    pub rooms: usize,
    /// Messages in all, spread evenly over the rooms.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Queries timed, one after another.
    #[arg(long, default_value_t = 400)]
    pub queries: usize,
    /// Distinct words the bodies are made of.
    #[arg(long, default_value_t = 5000)]
    pub vocabulary: usize,
    /// A shell command run after the fill, before the queries (search.sh: `ANALYZE` on
    /// PostgreSQL, as autovacuum would do in a deployment).
    #[arg(long)]
    pub after_fill: Option<String>,
}

#[derive(Args, Clone)]
pub struct BurstArgs {
    /// Offline members of the group, each with one device.
    #[arg(long, default_value_t = 10_000)]
    pub members: usize,
    /// Sends per second the sender makes into a direct room during the burst, one at a time.
    #[arg(long, default_value_t = 100.0)]
    pub steady_rate: f64,
    /// Longest wait for every notification, in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
}

#[derive(Args, Clone)]
pub struct LoadArgs {
    /// `group` or `direct`.
    #[arg(long, default_value = "group")]
    pub kind: String,
    #[arg(long, default_value_t = 1)]
    pub rooms: usize,
    /// Members (and connections) per room.
    #[arg(long, default_value_t = 100)]
    pub room_size: usize,
    /// Senders per room (the first members).
    #[arg(long, default_value_t = 1)]
    pub senders: usize,
    /// Aggregate sends per second over all senders; 0 sends as fast as acks allow.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Sends awaiting their ack per sender, at most.
    #[arg(long, default_value_t = 8)]
    pub window: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of sending before measuring.
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f64,
    /// Connections opened per second (0: all at once).
    #[arg(long, default_value_t = 2000.0)]
    pub ramp: f64,
    /// Message body size in bytes.
    #[arg(long, default_value_t = 32)]
    pub body_size: usize,
    /// Members per room who never connect (a direct room: --room-size 1 --offline-members 1).
    #[arg(long, default_value_t = 0)]
    pub offline_members: usize,
    /// Registers a Web Push device for every offline member, at a push service stand-in the
    /// load generator serves (the server must run with --push-insecure-endpoints).
    #[arg(long)]
    pub devices: bool,
}

#[derive(Args, Clone)]
pub struct IdleArgs {
    #[arg(long, default_value_t = 19_000)]
    pub connections: usize,
    /// Users the connections are spread over.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Connections opened per second.
    #[arg(long, default_value_t = 2000.0)]
    pub ramp: f64,
    /// Seconds to hold the connections once open, before measuring.
    #[arg(long, default_value_t = 15.0)]
    pub hold: f64,
}

#[derive(Args, Clone)]
pub struct StormArgs {
    /// Connections opened in each step.
    #[arg(long, default_value_t = 8000)]
    pub per_step: usize,
    /// Users the connections are spread over.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Concurrent connection attempts of the first step; doubled each step.
    #[arg(long, default_value_t = 16)]
    pub start_concurrency: usize,
    /// Largest concurrency tried.
    #[arg(long, default_value_t = 1024)]
    pub max_concurrency: usize,
}

#[derive(Args, Clone)]
pub struct SoakArgs {
    /// Length of the traffic phase, in minutes (the drain and the tally come after).
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,
    /// Direct rooms (two members, both sending).
    #[arg(long, default_value_t = 100)]
    pub direct_rooms: usize,
    /// Group rooms.
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// Members (and connections) per group.
    #[arg(long, default_value_t = 20)]
    pub group_size: usize,
    /// Aggregate sends per second over all sending connections.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Sends awaiting their ack per sender, at most.
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    /// Body size in bytes of a message sent to a group (direct messages have 32): long
    /// bodies make a stalled consumer's queue fill sooner (on loopback the server's socket
    /// buffer grows to ~4 MB before its 1,024-frame queue even starts to fill).
    #[arg(long, default_value_t = 4000)]
    pub group_body_size: usize,
    /// Mean seconds between a connection's drops (each drop is due at 0.5 to 1.5 times it).
    #[arg(long, default_value_t = 60.0)]
    pub drop_every_secs: f64,
    /// Slow consumers: group members that send nothing and now and then stop reading until
    /// the server closes them (4002). One per group, in the first groups.
    #[arg(long, default_value_t = 4)]
    pub slow: usize,
    /// Mean seconds a slow consumer reads normally between two stalls.
    #[arg(long, default_value_t = 60.0)]
    pub slow_read_secs: f64,
    /// Longest stall of a slow consumer, in seconds, closed or not.
    #[arg(long, default_value_t = 420.0)]
    pub slow_stall_max_secs: f64,
    /// Seconds between two samples of the server's RSS and CPU (needs --pid).
    #[arg(long, default_value_t = 30.0)]
    pub sample_secs: f64,
    /// Attempts of one send (the first and its retries) before it is given up.
    #[arg(long, default_value_t = 40)]
    pub max_tries: u32,
    /// Longest wait for the members to settle after the traffic phase, in seconds.
    #[arg(long, default_value_t = 180.0)]
    pub drain_max_secs: f64,
    /// Seed of the drop and stall schedule.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
