//! The content rules' check of a post's body, made once per message at the edge, before
//! the room stores it ([`screen`]): a `reject` rule refuses it (`forbidden`, naming the
//! rule), `mask` rules change what is stored, and `flag` rules are named so that the
//! message is reported once stored ([`report_flagged`]). `send` and `edit` from a
//! connection, and the admin API's system posts, all go through [`screen`].

use crate::db::models::{StoredMessage, UserKind};
use crate::db::safety::NewReport;
use crate::db::Store;
use crate::error::ProtoError;
use crate::protocol::views::MessageView;
use crate::safety::{RuleSet, Sender, Verdict};

/// A body the rules let through: as it is to be stored, and the `flag` rules it matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screened {
    pub body: String,
    pub flagged: Vec<String>,
}

/// Checks `body`, posted by a user of `kind`, against `rules`.
pub fn screen(rules: &RuleSet, kind: UserKind, body: String) -> Result<Screened, ProtoError> {
    let sender = match kind {
        UserKind::User => Sender::User,
        UserKind::Bot | UserKind::System => Sender::Automated,
    };
    match rules.check(sender, &body) {
        Verdict::Reject { rule } => Err(ProtoError::forbidden(format!(
            "the message matches the content rule {rule}; it was not sent"
        ))),
        Verdict::Store {
            body: checked,
            flagged,
        } => {
            let body = match checked {
                std::borrow::Cow::Borrowed(_) => body,
                std::borrow::Cow::Owned(masked) => masked,
            };
            Ok(Screened { body, flagged })
        }
    }
}

/// Reports a stored message that `flag` rules matched: one report, reason `rule`, no
/// reporter, its note naming the rules. A failure is logged: the message is stored and
/// acked already.
pub async fn report_flagged(store: Store, message: StoredMessage, flagged: Vec<String>) {
    let view = MessageView::from_stored(&message);
    let snapshot = match serde_json::to_string(&view) {
        Ok(snapshot) => snapshot,
        Err(err) => {
            log::error!(
                "content rules: cannot keep the flagged message {}: {err}",
                view.id
            );
            return;
        }
    };
    let row = &message.row;
    let report = NewReport::new(
        "rule",
        Some(format!("content rule {}", flagged.join(", "))),
        None,
        (row.room_id, row.seq, row.sender_id),
        snapshot,
    );
    if let Err(err) = store.create_report(report).await {
        log::error!(
            "content rules: message {} matched {} but its report was not stored: {err}",
            view.id,
            flagged.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::{Action, AppliesTo, Rule};

    fn rules() -> RuleSet {
        let rule = |id: &str, action| Rule {
            id: id.into(),
            pattern: None,
            action,
            applies_to: AppliesTo::Users,
        };
        match RuleSet::compile(vec![
            rule("contact_phone", Action::Reject),
            rule("contact_email", Action::Mask),
            rule("link", Action::Flag),
        ]) {
            Ok(rules) => rules,
            Err(err) => panic!("{err}"),
        }
    }

    #[test]
    fn a_reject_is_forbidden_naming_the_rule() {
        let err = screen(&rules(), UserKind::User, "010-1234-5678".into()).err();
        let err = err.map(|err| (err.code, err.message));
        assert!(matches!(
            err,
            Some((crate::error::ErrorCode::Forbidden, ref message)) if message.contains("contact_phone")
        ));
    }

    #[test]
    fn masks_and_flags_come_back_and_bots_pass_rules_for_users() {
        let screened = screen(&rules(), UserKind::User, "a@b.kr x.com".into());
        assert_eq!(
            screened,
            Ok(Screened {
                body: "●●●●●● x.com".into(),
                flagged: vec!["link".into()]
            })
        );
        let bot = screen(&rules(), UserKind::Bot, "010-1234-5678".into());
        assert_eq!(
            bot,
            Ok(Screened {
                body: "010-1234-5678".into(),
                flagged: vec![]
            })
        );
    }
}
