//! Multi-node mode (`--redis-url`): several nodes share rooms through PostgreSQL (the one
//! record, which also gives each room's seq: `db/seq.rs`) and Redis (the fast path between
//! nodes: `bus`). What goes over Redis is in `wire` (how a room delivers in seq order
//! whatever arrives late, twice or never is `crate::posting::order`); who is online on any
//! node is in `presence`; the live connections the admin API counts across nodes are in `live`; what a
//! node re-reads from the store so that authorization never rests on a publish arriving is
//! decided in `authz`.

pub mod authz;
pub mod bus;
pub mod joins;
pub mod live;
pub mod presence;
pub mod wire;

pub use bus::{Bus, BusError, BusOptions, Inbound, SubscriptionId};
