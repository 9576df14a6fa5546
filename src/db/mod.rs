//! Persistence: schema, rows, the store interface and the group-commit writer.

pub mod authz;
pub mod backend;
pub mod blocks;
pub mod bots;
pub mod bulk;
pub mod conversation;
pub mod devices;
pub mod erase;
pub mod error;
pub mod export;
pub mod file_queries;
pub mod files;
pub mod health;
pub mod identity;
#[macro_use]
pub mod membership;
pub mod messages;
pub mod models;
pub mod names;
pub mod notify_queries;
pub mod push_queue;
pub mod retention;
pub mod room_list;
pub mod rooms;
pub mod safety;
pub mod schema;
pub mod sender_checks;
pub mod seq;
pub mod sqlite;
pub mod store;
pub mod users;
pub mod writer;

pub use backend::DatabaseUrl;
pub use error::StoreError;
pub use store::{RoomSummary, Store, StoreConfig, MAX_GROUPS_PER_USER};
pub use users::{DirectoryAfter, DirectoryPage, IssuedToken, People, MAX_USER_NAME};
pub use writer::{Appended, NewPost, Outcome};
