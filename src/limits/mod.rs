//! Limits on what one user, one client address or one node can take, as plain structs the
//! HTTP layer and the actors hold: WebSocket connections, the open-files limit they follow
//! from, and how often `typing` is passed on.

pub mod connections;
pub mod open_files;
pub mod typing;
