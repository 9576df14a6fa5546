//! What a phone shows for a notification when the app is closed (FCM's `notification`, APNs'
//! `aps.alert`): a title and a line made from the stored payload, the same for both
//! providers. The whole payload travels beside it for the app (docs/notifications.md).
//! Web Push has no such part: the service worker makes its own from the payload.

use serde::Deserialize;

/// The parts of a stored payload (`crate::notify::Payload`) an alert is made of.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Shown {
    pub room: ShownRoom,
    pub message: ShownMessage,
    pub count: i64,
    pub unread: i64,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ShownRoom {
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ShownMessage {
    pub sender: ShownSender,
    pub excerpt: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ShownSender {
    pub name: String,
}

/// A stored payload that is not the JSON `Payload` writes: the delivery is given up.
#[derive(Debug, thiserror::Error)]
#[error("the stored payload is not a notification: {0}")]
pub struct BadPayload(#[from] serde_json::Error);

/// The title and line a phone shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub title: String,
    pub body: String,
    /// The badge: the user's unread messages over all rooms.
    pub badge: i64,
    /// The room (`r_N`): APNs `thread-id`, so a phone groups a room's notifications.
    pub thread: String,
}

impl Shown {
    pub fn parse(payload: &str) -> Result<Shown, BadPayload> {
        Ok(serde_json::from_str(payload)?)
    }

    /// A group's notification is titled with the group's name and says who wrote; a direct
    /// or bot room's with the sender's name. Without a preview (`--push-preview none`, an
    /// empty excerpt) the line says how many messages there are, never what they say.
    pub fn alert(&self) -> Alert {
        let sender = &self.message.sender.name;
        let group = self.room.kind == "group";
        let title = match (&self.room.name, group) {
            (Some(name), true) => name.clone(),
            _ => sender.clone(),
        };
        let said = if self.message.excerpt.is_empty() {
            match self.count {
                ..=1 => "New message".to_string(),
                count => format!("{count} new messages"),
            }
        } else {
            self.message.excerpt.clone()
        };
        let body = if group {
            format!("{sender}: {said}")
        } else {
            said
        };
        Alert {
            title,
            body,
            badge: self.unread.max(0),
            thread: self.room.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn shown(kind: &str, name: Option<&str>, excerpt: &str, count: i64) -> Shown {
        let payload = json!({
            "type": "message",
            "room": {"id": "r_7", "kind": kind, "name": name},
            "message": {
                "id": "m_7_3", "seq": 3,
                "sender": {"id": "u_2", "name": "amy", "kind": "user"},
                "excerpt": excerpt
            },
            "count": count,
            "unread": 4
        });
        Shown::parse(&payload.to_string()).expect("a payload")
    }

    #[test]
    fn a_direct_message_is_titled_with_its_sender() {
        let alert = shown("direct", Some("amy"), "is x=3 right?", 1).alert();
        assert_eq!(
            alert,
            Alert {
                title: "amy".into(),
                body: "is x=3 right?".into(),
                badge: 4,
                thread: "r_7".into()
            }
        );
    }

    #[test]
    fn a_group_message_is_titled_with_the_group_and_names_its_sender() {
        let alert = shown("group", Some("algebra"), "see page 4", 2).alert();
        assert_eq!(alert.title, "algebra");
        assert_eq!(alert.body, "amy: see page 4");
    }

    #[test]
    fn without_a_preview_only_the_count_is_shown() {
        assert_eq!(
            shown("direct", Some("amy"), "", 1).alert().body,
            "New message"
        );
        assert_eq!(
            shown("group", Some("g"), "", 3).alert().body,
            "amy: 3 new messages"
        );
    }

    #[test]
    fn what_is_not_a_payload_is_refused() {
        assert!(Shown::parse("{}").is_err());
        assert!(Shown::parse("not json").is_err());
    }
}
