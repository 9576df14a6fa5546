//! Rich templates of docs/protocol.md section 6 (text, buttons, quick replies, card, carousel,
//! image): their typed form, validation with errors that name the place, and the button
//! and reply ids a template offers.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Most buttons, replies or cards one template may hold.
pub const MAX_CHOICES: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Template {
    Text { text: String },
    Buttons { text: String, buttons: Vec<Choice> },
    QuickReplies { text: String, replies: Vec<Choice> },
    Card(Card),
    Carousel { cards: Vec<Card> },
    Image { url: String, alt: String },
}

/// A button or a quick reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Choice {
    pub id: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Card {
    pub title: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Choice>>,
}

impl Template {
    /// Parses and checks a template; `place` prefixes error messages (`template`,
    /// `states.quiz.say[1]`).
    pub fn parse(value: &Value, place: &str) -> Result<Template, String> {
        let template: Template =
            serde_json::from_value(value.clone()).map_err(|err| format!("{place}: {err}"))?;
        template.check(place)?;
        Ok(template)
    }

    /// Checks what the JSON shape alone does not say (counts, ids, labels, URLs); `place` prefixes
    /// error messages.
    pub fn check(&self, place: &str) -> Result<(), String> {
        let mut seen = HashSet::new();
        match self {
            Template::Text { .. } => Ok(()),
            Template::Image { url, .. } => check_url(url, &format!("{place}.url")),
            Template::Buttons { buttons, .. } => {
                check_choices(buttons, &format!("{place}.buttons"), &mut seen)
            }
            Template::QuickReplies { replies, .. } => {
                check_choices(replies, &format!("{place}.replies"), &mut seen)
            }
            Template::Card(card) => check_card(card, place, &mut seen),
            Template::Carousel { cards } => {
                check_count(cards.len(), &format!("{place}.cards"))?;
                for (index, card) in cards.iter().enumerate() {
                    check_card(card, &format!("{place}.cards[{index}]"), &mut seen)?;
                }
                Ok(())
            }
        }
    }

    /// Every button and quick reply the template offers.
    pub fn choices(&self) -> Vec<&Choice> {
        match self {
            Template::Text { .. } | Template::Image { .. } => Vec::new(),
            Template::Buttons { buttons, .. } => buttons.iter().collect(),
            Template::QuickReplies { replies, .. } => replies.iter().collect(),
            Template::Card(card) => card.buttons.iter().flatten().collect(),
            Template::Carousel { cards } => cards
                .iter()
                .flat_map(|card| card.buttons.iter().flatten())
                .collect(),
        }
    }

    /// The label of the choice with this id, if the template offers it.
    pub fn label_of(&self, id: &str) -> Option<&str> {
        self.choices()
            .into_iter()
            .find(|choice| choice.id == id)
            .map(|choice| choice.label.as_str())
    }

    /// Plain text for clients that do not render templates.
    pub fn plain_text(&self) -> String {
        match self {
            Template::Text { text }
            | Template::Buttons { text, .. }
            | Template::QuickReplies { text, .. } => text.clone(),
            Template::Card(card) => format!("{}: {}", card.title, card.text),
            Template::Carousel { cards } => cards
                .iter()
                .map(|card| card.title.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            Template::Image { alt, .. } => alt.clone(),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn check_count(count: usize, place: &str) -> Result<(), String> {
    if (1..=MAX_CHOICES).contains(&count) {
        Ok(())
    } else {
        Err(format!(
            "{place}: {count} entries; 1 to {MAX_CHOICES} are allowed"
        ))
    }
}

fn check_choices(
    choices: &[Choice],
    place: &str,
    seen: &mut HashSet<String>,
) -> Result<(), String> {
    check_count(choices.len(), place)?;
    for (index, choice) in choices.iter().enumerate() {
        if choice.id.is_empty() || choice.id.chars().count() > 64 {
            return Err(format!("{place}[{index}].id: must be 1 to 64 characters"));
        }
        if choice.label.trim().is_empty() {
            return Err(format!("{place}[{index}].label: must not be empty"));
        }
        if !seen.insert(choice.id.clone()) {
            return Err(format!("{place}[{index}].id: duplicate id {:?}", choice.id));
        }
    }
    Ok(())
}

fn check_card(card: &Card, place: &str, seen: &mut HashSet<String>) -> Result<(), String> {
    if let Some(url) = &card.image_url {
        check_url(url, &format!("{place}.image_url"))?;
    }
    match &card.buttons {
        Some(buttons) => check_choices(buttons, &format!("{place}.buttons"), seen),
        None => Ok(()),
    }
}

/// Longest URL a template may carry.
pub const MAX_URL_CHARS: usize = 2048;

/// An image URL a client may load: absolute `http://` or `https://` with a host, or a path
/// on this server (`/triangle.svg`, not `//host/…`); never `javascript:`, `data:` or any
/// other scheme, never white space or control characters, at most [`MAX_URL_CHARS`].
fn check_url(url: &str, place: &str) -> Result<(), String> {
    let refused = |why: &str| Err(format!("{place}: {why}"));
    if url.chars().count() > MAX_URL_CHARS {
        return refused(&format!("longer than {MAX_URL_CHARS} characters"));
    }
    if url
        .chars()
        .any(|ch| ch.is_whitespace() || ch.is_control() || ch == '\\')
    {
        return refused("must not hold white space, control characters or backslashes");
    }
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok(());
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(())
        }
        _ => refused("must be an http:// or https:// URL, or a path on this server (/…)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_every_kind() {
        let button = json!({"id":"b1","label":"Yes"});
        for value in [
            json!({"kind":"text","text":"hi"}),
            json!({"kind":"buttons","text":"pick","buttons":[button]}),
            json!({"kind":"quick_replies","text":"pick","replies":[button]}),
            json!({"kind":"card","title":"T","text":"x","image_url":"https://example.invalid/a.png","buttons":[button]}),
            json!({"kind":"carousel","cards":[{"title":"A","text":"a"},{"title":"B","text":"b"}]}),
            json!({"kind":"image","url":"https://example.invalid/a.png","alt":"a"}),
        ] {
            Template::parse(&value, "template").unwrap_or_else(|err| panic!("{value}: {err}"));
        }
    }

    #[test]
    fn names_the_place_of_each_mistake() {
        let eleven: Vec<Value> = (0..11)
            .map(|i| json!({"id":format!("b{i}"),"label":"x"}))
            .collect();
        let err = Template::parse(&json!({"kind":"buttons","text":"t","buttons":eleven}), "t")
            .unwrap_err();
        assert_eq!(err, "t.buttons: 11 entries; 1 to 10 are allowed");
        let twice = json!([{"id":"a","label":"x"},{"id":"a","label":"y"}]);
        let err = Template::parse(
            &json!({"kind":"quick_replies","text":"t","replies":twice}),
            "t",
        )
        .unwrap_err();
        assert_eq!(err, "t.replies[1].id: duplicate id \"a\"");
        let err = Template::parse(&json!({"kind":"video","url":"x"}), "t").unwrap_err();
        assert!(err.starts_with("t: unknown variant `video`"), "{err}");
    }

    #[test]
    fn image_urls_are_http_https_or_this_servers() {
        for fine in [
            "https://example.invalid/a.png",
            "http://127.0.0.1:8080/x.png?size=2",
            "/triangle.svg",
        ] {
            let image = json!({"kind":"image","url":fine,"alt":"a"});
            assert!(Template::parse(&image, "t").is_ok(), "{fine}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:image/svg+xml,<svg/>",
            "vbscript:x",
            "//evil.example/a.png",
            "/\\evil.example",
            "file:///etc/passwd",
            "https://",
            "u",
            "",
        ] {
            let image = json!({"kind":"image","url":bad,"alt":"a"});
            let err = Template::parse(&image, "t").expect_err(bad);
            assert!(err.starts_with("t.url: "), "{err}");
            let card =
                json!({"kind":"carousel","cards":[{"title":"A","text":"a","image_url":bad}]});
            let err = Template::parse(&card, "t").expect_err(bad);
            assert!(err.starts_with("t.cards[0].image_url: "), "{err}");
        }
    }

    #[test]
    fn finds_labels_across_a_carousel() {
        let template = Template::parse(
            &json!({"kind":"carousel","cards":[{"title":"A","text":"a","buttons":[{"id":"x","label":"Ex"}]}]}),
            "t",
        )
        .expect("valid");
        assert_eq!(template.label_of("x"), Some("Ex"));
        assert_eq!(template.label_of("y"), None);
    }
}
