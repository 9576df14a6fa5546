//! Palaver: a real-time chat server on the actor model.

pub mod actors;
pub mod bots;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod db;
pub mod error;
pub mod files;
pub mod http;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod outbound;
pub mod posting;
pub mod protocol;
pub mod push;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod websocket;
