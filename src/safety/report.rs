//! Why a message is reported ([`ReportReason`]) and the bounds of a report's note: what the
//! `report` command takes (a person never gives `rule`, which only a `flag` content rule
//! gives) and what the admin API shows; where a report stands ([`ReportStatus`]) and what
//! resolving one does ([`ResolveAction`]).

/// Longest note of a report, or of its resolution, in code points.
pub const MAX_NOTE_CHARS: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportReason {
    Spam,
    Abuse,
    Sexual,
    SelfHarm,
    Other,
    /// Made by a `flag` content rule; never from a person.
    Rule,
}

impl ReportReason {
    pub const ALL: [ReportReason; 6] = [
        ReportReason::Spam,
        ReportReason::Abuse,
        ReportReason::Sexual,
        ReportReason::SelfHarm,
        ReportReason::Other,
        ReportReason::Rule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportReason::Spam => "spam",
            ReportReason::Abuse => "abuse",
            ReportReason::Sexual => "sexual",
            ReportReason::SelfHarm => "self_harm",
            ReportReason::Other => "other",
            ReportReason::Rule => "rule",
        }
    }

    /// A reason a person may give: any but `rule`.
    pub fn from_person(text: &str) -> Option<ReportReason> {
        ReportReason::ALL
            .into_iter()
            .filter(|reason| *reason != ReportReason::Rule)
            .find(|reason| reason.as_str() == text)
    }
}

/// Where a report stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportStatus {
    Open,
    Resolved,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Open => "open",
            ReportStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<ReportStatus> {
        [ReportStatus::Open, ReportStatus::Resolved]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// What an admin does with a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveAction {
    Dismiss,
    DeleteMessage,
    DeactivateSender,
}

impl ResolveAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveAction::Dismiss => "dismiss",
            ResolveAction::DeleteMessage => "delete_message",
            ResolveAction::DeactivateSender => "deactivate_sender",
        }
    }

    pub fn parse(text: &str) -> Option<ResolveAction> {
        [
            ResolveAction::Dismiss,
            ResolveAction::DeleteMessage,
            ResolveAction::DeactivateSender,
        ]
        .into_iter()
        .find(|action| action.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_gives_any_reason_but_rule() {
        for reason in ["spam", "abuse", "sexual", "self_harm", "other"] {
            assert_eq!(
                ReportReason::from_person(reason).map(ReportReason::as_str),
                Some(reason)
            );
        }
        for reason in ["rule", "Spam", "", "selfharm"] {
            assert_eq!(ReportReason::from_person(reason), None, "{reason}");
        }
    }
}
