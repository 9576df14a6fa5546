//! A bot definition as JSON (see docs/bots.md): its id, name, sort (scripted or webhook),
//! fallback text and the script or the webhook settings, validated with errors that name
//! the place of each mistake, e.g. `states.quiz.on[2].goto: no state "quzi"`.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::protocol::template::Template;

/// Default and largest webhook time-out.
pub const DEFAULT_TIMEOUT_MS: u64 = 5000;
pub const MAX_TIMEOUT_MS: u64 = 60_000;
/// Default bound on webhook calls in flight for one bot.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;
/// Longest regular expression, in bytes, and the most memory its compiled form may take.
const MAX_PATTERN: usize = 1000;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A bot definition as written (the JSON document), kept to give it back unchanged.
/// See docs/bots.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = BotDefinition)]
pub struct Document {
    /// Required, except in `PUT /admin/bots/{id}`, whose path names the bot; always given
    /// back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub sort: Sort,
    pub fallback: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSettings>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = BotSort)]
pub enum Sort {
    Scripted,
    Webhook,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = BotScript)]
pub struct ScriptDocument {
    pub start: String,
    pub states: BTreeMap<String, StateDocument>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = BotState)]
pub struct StateDocument {
    /// Templates, each with an optional plain-text `body`.
    pub say: Vec<Value>,
    #[serde(default)]
    pub on: Vec<TransitionDocument>,
}

/// `{"choice":"b1","goto":…}`, `{"text":"regex","goto":…}` or `{"goto":…}` (anything else).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = BotTransition)]
pub struct TransitionDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub goto: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = BotWebhook)]
pub struct WebhookSettings {
    pub url: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_max_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}

/// One message a bot says: a template and its plain-text body.
#[derive(Clone, Debug, PartialEq)]
pub struct Utterance {
    pub body: String,
    pub template: Template,
}

/// A checked definition, ready to run.
#[derive(Clone, Debug)]
pub struct Definition {
    /// The document's id, checked.
    id: String,
    pub document: Document,
    pub behaviour: Behaviour,
}

#[derive(Clone, Debug)]
pub enum Behaviour {
    Scripted(Script),
    Webhook(Webhook),
}

#[derive(Clone, Debug)]
pub struct Script {
    pub start: String,
    pub states: BTreeMap<String, State>,
}

#[derive(Clone, Debug)]
pub struct State {
    pub say: Vec<Utterance>,
    pub on: Vec<Transition>,
}

#[derive(Clone, Debug)]
pub struct Transition {
    pub when: Condition,
    pub goto: String,
}

#[derive(Clone, Debug)]
pub enum Condition {
    Choice(String),
    Text(Regex),
    Otherwise,
}

#[derive(Clone, Debug)]
pub struct Webhook {
    pub url: String,
    pub timeout: Duration,
    pub max_in_flight: usize,
}

impl Definition {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Parses and checks a definition; the error names the place of the first mistake.
    pub fn from_json(value: &Value) -> Result<Definition, String> {
        let document: Document =
            serde_json::from_value(value.clone()).map_err(|err| format!("definition: {err}"))?;
        Definition::check(document)
    }

    pub fn check(document: Document) -> Result<Definition, String> {
        let id = document.id.clone().ok_or("id: a definition needs an id")?;
        check_id(&id)?;
        let name = document.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err("name: must be 1 to 64 characters".into());
        }
        if document.fallback.trim().is_empty() || document.fallback.chars().count() > 4000 {
            return Err("fallback: must be 1 to 4000 characters".into());
        }
        let behaviour = match document.sort {
            Sort::Scripted => {
                let script = document
                    .script
                    .as_ref()
                    .ok_or("script: a scripted bot needs a script")?;
                Behaviour::Scripted(check_script(script)?)
            }
            Sort::Webhook => {
                let settings = document
                    .webhook
                    .as_ref()
                    .ok_or("webhook: a webhook bot needs webhook settings")?;
                Behaviour::Webhook(check_webhook(settings)?)
            }
        };
        Ok(Definition {
            id,
            document,
            behaviour,
        })
    }
}

fn check_id(id: &str) -> Result<(), String> {
    let well_formed = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && id.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !well_formed {
        return Err(format!(
            "id: {id:?} must be 1 to 64 characters of a-z, 0-9, _ and -, starting with a letter"
        ));
    }
    if id == "system"
        || id.starts_with("u_")
        || id.starts_with("r_")
        || id.starts_with("m_")
        || id.starts_with("s_")
    {
        return Err(format!("id: {id:?} is reserved"));
    }
    Ok(())
}

fn check_script(script: &ScriptDocument) -> Result<Script, String> {
    if !script.states.contains_key(&script.start) {
        return Err(format!("script.start: no state {:?}", script.start));
    }
    let mut states = BTreeMap::new();
    for (name, state) in &script.states {
        let place = format!("states.{name}");
        if state.say.is_empty() || state.say.len() > 10 {
            return Err(format!("{place}.say: 1 to 10 messages"));
        }
        let say = state
            .say
            .iter()
            .enumerate()
            .map(|(index, entry)| utterance(entry, &format!("{place}.say[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut on = Vec::with_capacity(state.on.len());
        for (index, transition) in state.on.iter().enumerate() {
            let place = format!("{place}.on[{index}]");
            if !script.states.contains_key(&transition.goto) {
                return Err(format!("{place}.goto: no state {:?}", transition.goto));
            }
            let when = match (&transition.choice, &transition.text) {
                (Some(_), Some(_)) => {
                    return Err(format!("{place}: give `choice` or `text`, not both"))
                }
                (Some(choice), None) => Condition::Choice(choice.clone()),
                (None, Some(pattern)) => {
                    Condition::Text(compile(pattern).map_err(|err| format!("{place}.text: {err}"))?)
                }
                (None, None) => Condition::Otherwise,
            };
            on.push(Transition {
                when,
                goto: transition.goto.clone(),
            });
        }
        states.insert(name.clone(), State { say, on });
    }
    Ok(Script {
        start: script.start.clone(),
        states,
    })
}

fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN {
        return Err(format!(
            "the regular expression is over {MAX_PATTERN} bytes"
        ));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|err| format!("bad regular expression: {err}"))
}

/// A say entry or a webhook reply: a template with an optional plain-text `body`.
pub fn utterance(entry: &Value, place: &str) -> Result<Utterance, String> {
    let Value::Object(object) = entry else {
        return Err(format!("{place}: must be a template object"));
    };
    let mut object = object.clone();
    let body = match object.remove("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(body)) => Some(body),
        Some(_) => return Err(format!("{place}.body: must be a string")),
    };
    let template = Template::parse(&Value::Object(object), place)?;
    let body = body.unwrap_or_else(|| template.plain_text());
    if body.trim().is_empty() || body.chars().count() > 4000 {
        return Err(format!("{place}.body: must be 1 to 4000 characters"));
    }
    Ok(Utterance { body, template })
}

fn check_webhook(settings: &WebhookSettings) -> Result<Webhook, String> {
    let rest =
        (settings.url.strip_prefix("https://")).or_else(|| settings.url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err(format!(
            "webhook.url: {:?} must be an https:// or http:// URL",
            settings.url
        ));
    };
    // `url` would read `http:///x` as host `x`; the client would not.
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("webhook.url: {:?} has no host", settings.url));
    }
    // Parsed as a URL too, so one that loads is one the client can call: a port past 65535
    // or a host that is not one fails here, not at the first message.
    url::Url::parse(&settings.url)
        .map_err(|err| format!("webhook.url: {:?}: {err}", settings.url))?;
    if !(1..=MAX_TIMEOUT_MS).contains(&settings.timeout_ms) {
        return Err(format!("webhook.timeout_ms: must be 1 to {MAX_TIMEOUT_MS}"));
    }
    if !(1..=1000).contains(&settings.max_in_flight) {
        return Err("webhook.max_in_flight: must be 1 to 1000".into());
    }
    Ok(Webhook {
        url: settings.url.clone(),
        timeout: Duration::from_millis(settings.timeout_ms),
        max_in_flight: settings.max_in_flight,
    })
}
