//! The content rules as the store keeps them (the record every node follows), and
//! [`LiveRules`], the compiled copy a node checks posts with. A change through the admin API
//! replaces the rows, moves `content_rules_version` on and writes its audit entry in one
//! transaction, then swaps this node's copy; every other node re-reads the version every
//! `--authz-sweep-ms` ([`Store::follow_content_rules`]) and compiles the new set when it
//! moved (docs/safety.md).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::super::error::StoreError;
use super::super::schema::{audit_log, content_rules, content_rules_version};
use super::super::store::Store;
use super::audit::AuditEntry;
use crate::safety::{Action, AppliesTo, Rule, RuleSet};
use crate::{with_conn, write_conn};

/// The compiled rules this node checks posts with, and the version they were read at.
#[derive(Clone, Debug, Default)]
pub struct LiveRules {
    current: Arc<RwLock<(i64, Arc<RuleSet>)>>,
}

impl LiveRules {
    /// The rules now: a cheap copy of a pointer, taken once per post.
    pub fn get(&self) -> Arc<RuleSet> {
        match self.current.read() {
            Ok(current) => current.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    fn version(&self) -> i64 {
        match self.current.read() {
            Ok(current) => current.0,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    /// Takes `rules`, read at `version`, unless a newer version is already here.
    fn set(&self, version: i64, rules: Arc<RuleSet>) {
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if version >= current.0 {
            *current = (version, rules);
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = content_rules, treat_none_as_default_value = false)]
struct RuleRow {
    position: i64,
    id: String,
    pattern: Option<String>,
    action: String,
    applies_to: String,
}

fn rule_of(row: RuleRow) -> Result<Rule, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("content rule {}: {what}", row.id));
    Ok(Rule {
        action: Action::parse(&row.action).ok_or_else(|| corrupt("unknown action"))?,
        applies_to: AppliesTo::parse(&row.applies_to)
            .ok_or_else(|| corrupt("unknown applies_to"))?,
        id: row.id,
        pattern: row.pattern,
    })
}

impl Store {
    /// The rules this node checks posts with now.
    pub fn content_rules(&self) -> Arc<RuleSet> {
        self.live_rules().get()
    }

    /// Reads the rules' version and, when it moved since this node's copy, the rules, and
    /// compiles them. A stored set that does not compile (written by a newer version of
    /// Palaver) is an error, and this node keeps what it had.
    pub async fn load_content_rules(&self) -> Result<(), StoreError> {
        let known = self.live_rules().version();
        let read = self
            .run(move |db| async move {
                with_conn!(&*db, conn => {
                    let version: i64 = content_rules_version::table
                        .select(content_rules_version::version)
                        .first(conn)
                        .await?;
                    if version == known {
                        return Ok(None);
                    }
                    let rows: Vec<RuleRow> = content_rules::table
                        .select(RuleRow::as_select())
                        .order(content_rules::position)
                        .load(conn)
                        .await?;
                    Ok(Some((version, rows)))
                })
            })
            .await?;
        let Some((version, rows)) = read else {
            return Ok(());
        };
        let rules = rows
            .into_iter()
            .map(rule_of)
            .collect::<Result<Vec<_>, _>>()?;
        let compiled = RuleSet::compile(rules)
            .map_err(|err| StoreError::Corrupt(format!("the stored content rules: {err}")))?;
        self.live_rules().set(version, Arc::new(compiled));
        Ok(())
    }

    /// Replaces every rule with `rules` (compiled already, so known to be valid), writes
    /// the audit entry `rules` (by the admin API) in the same transaction, and takes them
    /// on this node at once.
    pub async fn put_content_rules(&self, rules: RuleSet) -> Result<Arc<RuleSet>, StoreError> {
        let rows: Vec<RuleRow> = rules
            .rules()
            .iter()
            .enumerate()
            .map(|(position, rule)| RuleRow {
                position: position as i64,
                id: rule.id.clone(),
                pattern: rule.pattern.clone(),
                action: rule.action.as_str().to_string(),
                applies_to: rule.applies_to.as_str().to_string(),
            })
            .collect();
        let audit = AuditEntry::admin("rules").detail(serde_json::json!({
            "rules": rules.rules().iter().map(|rule| serde_json::json!({
                "id": rule.id,
                "pattern": rule.pattern,
                "action": rule.action.as_str(),
                "applies_to": rule.applies_to.as_str(),
            })).collect::<Vec<_>>(),
        }));
        let version = self
            .run(move |db| async move {
                write_conn!(&*db, conn => {
                    conn.transaction::<i64, StoreError, _>(async move |conn| {
                        diesel::delete(content_rules::table).execute(conn).await?;
                        // One by one: at most 100, and SQLite takes no batch of rows
                        // with NULLs through this connection.
                        for row in &rows {
                            diesel::insert_into(content_rules::table)
                                .values(row)
                                .execute(conn)
                                .await?;
                        }
                        let version: i64 = diesel::update(content_rules_version::table)
                            .set((
                                content_rules_version::version
                                    .eq(content_rules_version::version + 1),
                                content_rules_version::updated_ms.eq(crate::clock::now_ms()),
                            ))
                            .returning(content_rules_version::version)
                            .get_result(conn)
                            .await?;
                        diesel::insert_into(audit_log::table)
                            .values(audit.row())
                            .execute(conn)
                            .await?;
                        Ok(version)
                    })
                    .await
                })
            })
            .await?;
        let rules = Arc::new(rules);
        self.live_rules().set(version, rules.clone());
        Ok(rules)
    }

    /// Re-reads the rules every `every`, for as long as the store is open: how a change made
    /// through another node's admin API reaches this one (multi-node mode). A failed read
    /// is logged once until one succeeds; this node keeps the rules it had.
    pub async fn follow_content_rules(self, every: Duration) {
        let mut failing = false;
        loop {
            tokio::time::sleep(every).await;
            match self.load_content_rules().await {
                Ok(()) if failing => {
                    log::info!("content rules: the store answers again");
                    failing = false;
                }
                Ok(()) => {}
                Err(err) if !failing => {
                    failing = true;
                    log::warn!(
                        "content rules: cannot read them from the store ({err}); retrying, \
                         this node keeps the rules it had"
                    );
                }
                Err(err) => log::debug!("content rules: {err}"),
            }
        }
    }
}
