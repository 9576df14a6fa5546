//! The audit log: one row per moderation action (a kick, a deactivation, a report resolved,
//! the content rules changed, …), written by the store function that makes the change, in
//! the same transaction, with [`NewAudit`]; read newest first by the admin API.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::super::error::StoreError;
use super::super::schema::audit_log;
use super::super::store::Store;
use crate::model::{RoomId, UserId};
use crate::with_conn;

/// What an action records: who (`None`: the admin API), what, where, on whom or what
/// (`u_3`, `m_3_121`, `rp_4`), and the details (JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub actor: Option<UserId>,
    pub action: &'static str,
    pub room: Option<RoomId>,
    pub target: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// An action through the admin API.
    pub fn admin(action: &'static str) -> AuditEntry {
        AuditEntry {
            actor: None,
            action,
            room: None,
            target: None,
            detail: serde_json::json!({}),
        }
    }

    pub fn by(mut self, actor: Option<UserId>) -> AuditEntry {
        self.actor = actor;
        self
    }

    pub fn room(mut self, room: RoomId) -> AuditEntry {
        self.room = Some(room);
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> AuditEntry {
        self.target = Some(target.into());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> AuditEntry {
        self.detail = detail;
        self
    }

    /// The row to insert, stamped now.
    pub fn row(&self) -> NewAudit {
        NewAudit {
            at_ms: crate::clock::now_ms(),
            actor_id: self.actor,
            action: self.action.to_string(),
            room_id: self.room,
            target: self.target.clone(),
            detail: self.detail.to_string(),
        }
    }
}

/// An audit row to insert, inside the transaction of the change it records:
/// `diesel::insert_into(audit_log::table).values(entry.row())`.
#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct NewAudit {
    pub at_ms: i64,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub room_id: Option<RoomId>,
    pub target: Option<String>,
    pub detail: String,
}

/// A stored audit entry.
#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub room_id: Option<RoomId>,
    pub target: Option<String>,
    /// JSON.
    pub detail: String,
}

impl Store {
    /// Audit entries newest first, older than the entry `before` (0: from the newest), at
    /// most `limit + 1` (the extra one says there is a next page).
    pub async fn audit_entries(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let mut query = audit_log::table
                    .select(AuditRow::as_select())
                    .order(audit_log::id.desc())
                    .limit(limit + 1)
                    .into_boxed();
                if before > 0 {
                    query = query.filter(audit_log::id.lt(before));
                }
                Ok(query.load(conn).await?)
            })
        })
        .await
    }
}
