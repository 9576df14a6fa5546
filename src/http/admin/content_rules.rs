//! `/admin/rules`: the content rules (docs/safety.md). `PUT` replaces the whole set: it is
//! compiled first, and refused whole (400 naming the rule) when any rule is invalid; the
//! store keeps it, with its audit entry, and every node checks posts with it (this one at
//! once, the others within `--authz-sweep-ms`).

use actix_web::HttpResponse;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Answer;
use crate::error::ProtoError;
use crate::http::auth::Admin;
use crate::http::error::ErrorBody;
use crate::http::json_body::{CheckedBody, Json};
use crate::safety::builtins::Builtin;
use crate::safety::rules::MAX_RULES;
use crate::safety::{Action, AppliesTo, Rule, RuleError, RuleSet};

/// What a rule does to a post whose body matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// `forbidden`, naming the rule; nothing stored.
    Reject,
    /// Each match stored as ● repeated to its length in code points.
    Mask,
    /// Stored as sent, and reported (reason `rule`).
    Flag,
}

/// Whose posts a rule checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleScope {
    /// People, bots and the system.
    All,
    /// People only (bots and the system are not checked).
    Users,
}

/// A rule as given in `PUT /admin/rules`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// A built-in's id (`contact_phone`, `contact_email`, `link`; no pattern), an existing
    /// custom rule's `cr_…` id (kept), or absent for a new custom rule.
    pub id: Option<String>,
    /// A custom rule's regex (Rust `regex` syntax), at most 1,000 bytes.
    pub pattern: Option<String>,
    pub action: RuleAction,
    /// Default `users`.
    pub applies_to: Option<RuleScope>,
}

/// `PUT /admin/rules` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRules {
    /// The whole new set, in order (at most 100 rules).
    pub rules: Vec<RuleInput>,
}

impl CheckedBody for PutRules {
    type Checked = Vec<RuleInput>;

    fn check(self) -> Result<Vec<RuleInput>, ProtoError> {
        if self.rules.len() > MAX_RULES {
            return Err(ProtoError::bad_request(format!(
                "rules: at most {MAX_RULES} rules"
            )));
        }
        Ok(self.rules)
    }
}

/// A rule as the server has it.
#[derive(Serialize, ToSchema)]
pub struct RuleView {
    /// `cr_…`, or a built-in's id.
    pub id: String,
    /// A custom rule's regex; null for a built-in.
    pub pattern: Option<String>,
    pub action: RuleAction,
    pub applies_to: RuleScope,
}

/// A built-in pattern an operator turns on by its id.
#[derive(Serialize, ToSchema)]
pub struct BuiltinView {
    pub id: &'static str,
    pub description: &'static str,
}

/// The active rules, in order, and the built-ins there are.
#[derive(Serialize, ToSchema)]
pub struct RuleList {
    pub builtins: Vec<BuiltinView>,
    pub rules: Vec<RuleView>,
}

fn list(rules: &RuleSet) -> RuleList {
    RuleList {
        builtins: Builtin::ALL
            .into_iter()
            .map(|builtin| BuiltinView {
                id: builtin.id(),
                description: builtin.description(),
            })
            .collect(),
        rules: rules
            .rules()
            .iter()
            .map(|rule| RuleView {
                id: rule.id.clone(),
                pattern: rule.pattern.clone(),
                action: match rule.action {
                    Action::Reject => RuleAction::Reject,
                    Action::Mask => RuleAction::Mask,
                    Action::Flag => RuleAction::Flag,
                },
                applies_to: match rule.applies_to {
                    AppliesTo::All => RuleScope::All,
                    AppliesTo::Users => RuleScope::Users,
                },
            })
            .collect(),
    }
}

/// The content rules every node checks posts with, and the built-in patterns.
#[utoipa::path(
    get,
    operation_id = "rules_list",
    path = "/admin/rules",
    tag = "safety",
    responses((status = 200, description = "The active rules, in order", body = RuleList)),
)]
pub async fn show(Admin(state): Admin) -> Answer {
    state.store.load_content_rules().await?;
    Ok(HttpResponse::Ok().json(list(&state.store.content_rules())))
}

/// Replaces every content rule; audited as `rules`.
#[utoipa::path(
    put,
    operation_id = "rules_put",
    path = "/admin/rules",
    tag = "safety",
    responses(
        (status = 200, description = "The new set, now active", body = RuleList),
        (status = 400, description = "bad_request: a rule is not valid (the message names it: its id, or `rules[N]` for a new one): not a regex, too long, matching an empty text, an unknown built-in or `cr_…` id, a built-in with a pattern, an id twice; or the set is over its limits; nothing changed", body = ErrorBody),
    ),
)]
pub async fn put(Admin(state): Admin, body: Json<PutRules>) -> Answer {
    let inputs = body.into_inner();
    state.store.load_content_rules().await?;
    let current = state.store.content_rules();
    // Checked first with each new rule named by its place, as the error should name it.
    let labelled = rules_of(&inputs, &current, |index| format!("rules[{index}]"))?;
    RuleSet::compile(labelled).map_err(refusal)?;
    let rules = rules_of(&inputs, &current, |_| new_id())?;
    let compiled = RuleSet::compile(rules).map_err(refusal)?;
    let active = state.store.put_content_rules(compiled).await?;
    log::info!(
        "admin: content rules replaced ({} rules)",
        active.rules().len()
    );
    Ok(HttpResponse::Ok().json(list(&active)))
}

fn refusal(err: RuleError) -> ProtoError {
    ProtoError::bad_request(err.to_string())
}

/// The rules `inputs` give, a new custom rule's id made by `new_id` (from its place).
fn rules_of(
    inputs: &[RuleInput],
    current: &RuleSet,
    new_id: impl Fn(usize) -> String,
) -> Result<Vec<Rule>, ProtoError> {
    let mut rules = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        let id = match &input.id {
            None if input.pattern.is_none() => {
                return Err(ProtoError::bad_request(format!(
                    "rules[{index}]: a custom rule needs a pattern; a built-in one its id"
                )))
            }
            None => new_id(index),
            Some(id) if id.starts_with("cr_") => {
                if !current.rules().iter().any(|rule| rule.id == *id) {
                    return Err(ProtoError::bad_request(format!(
                        "rules[{index}]: no rule {id}; a new rule is sent without an id"
                    )));
                }
                id.clone()
            }
            Some(id) if Builtin::parse(id).is_some() => id.clone(),
            Some(id) => {
                return Err(ProtoError::bad_request(format!(
                    "rules[{index}]: {id:?} is neither a built-in rule nor a custom rule's cr_… id"
                )))
            }
        };
        rules.push(Rule {
            id,
            pattern: input.pattern.clone(),
            action: match input.action {
                RuleAction::Reject => Action::Reject,
                RuleAction::Mask => Action::Mask,
                RuleAction::Flag => Action::Flag,
            },
            applies_to: match input.applies_to.unwrap_or(RuleScope::Users) {
                RuleScope::All => AppliesTo::All,
                RuleScope::Users => AppliesTo::Users,
            },
        });
    }
    Ok(rules)
}

/// `cr_` and 12 hex digits.
fn new_id() -> String {
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    format!("cr_{}", hex::encode(bytes))
}
