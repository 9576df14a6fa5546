//! The fields a post carries and a change may carry again, read once for `send` and `edit`
//! alike: the body (1 to 4,000 code points), `reply_to` and `mentions` (section 11).

use super::fields::{char_count, Fields};
use super::ids::{MessageId, UserId};
use crate::conversation::MAX_MENTIONS;
use crate::error::ProtoError;

/// Longest message body, in Unicode code points.
pub const MAX_BODY_CHARS: usize = 4000;

/// A message body: 1 to 4,000 code points. The one check of what a user writes, for `send`
/// and `edit` alike.
pub fn body(text: &str) -> Result<String, ProtoError> {
    let chars = char_count(text);
    if chars == 0 {
        return Err(ProtoError::bad_request("field `body` must not be empty"));
    }
    if chars > MAX_BODY_CHARS {
        return Err(ProtoError::too_large(format!(
            "the body has {chars} characters; at most {MAX_BODY_CHARS} are allowed"
        )));
    }
    Ok(text.to_string())
}

/// `send`'s `reply_to`: a message id; one that is not canonical names no message.
pub fn reply_to(fields: &Fields) -> Result<Option<MessageId>, ProtoError> {
    fields.opt_id("reply_to")?.map(message_id).transpose()
}

/// `mentions`: 0 to 20 user ids (`u_N`), each once. Anything else names no member.
pub fn mentions(fields: &Fields) -> Result<Vec<UserId>, ProtoError> {
    let mut users: Vec<UserId> = Vec::new();
    for text in fields.id_list("mentions", MAX_MENTIONS)? {
        let user: UserId = text.parse().map_err(|_| {
            ProtoError::bad_request(format!(
                "field `mentions`: {text} is not a member of the room"
            ))
        })?;
        if !users.contains(&user) {
            users.push(user);
        }
    }
    Ok(users)
}

/// The message a reply names; an id that is not canonical names no message.
fn message_id(text: &str) -> Result<MessageId, ProtoError> {
    text.parse()
        .map_err(|_| ProtoError::not_found("no such message"))
}
