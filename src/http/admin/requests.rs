//! Every admin request body: the JSON type it is read as (which the OpenAPI document shows:
//! both derive from the one type) and its check, the one place its values are checked; the
//! handler gets what the check gives ([`CheckedBody`], read by `Json<Body>`).

use serde::Deserialize;
use utoipa::ToSchema;

use crate::bots::definition::Document;
use crate::error::ProtoError;
use crate::http::json_body::{CheckedBody, NamedUser};
use crate::model::names::{group_name, user_name};
use crate::protocol::command::{self, MAX_GROUP_MEMBERS};
use crate::protocol::template::Template;

// ---- Users ---------------------------------------------------------------------------------

/// `POST /admin/users` body.
#[derive(Deserialize, ToSchema)]
pub struct CreateUser {
    /// 1 to 64 printable characters (trimmed), unique; `system` is taken.
    pub name: String,
}

/// Checked: the name, trimmed.
impl CheckedBody for CreateUser {
    type Checked = String;

    fn check(self) -> Result<String, ProtoError> {
        Ok(user_name(&self.name)?)
    }
}

/// `PUT /admin/users/external/{sub}` body.
#[derive(Deserialize, ToSchema)]
pub struct ExternalUser {
    /// The display name, as a JWT's `name` claim: cleaned, never refused (docs/auth.md,
    /// "Names"). A new user without one is named after the external id; a known user
    /// without one keeps their name.
    pub name: Option<String>,
}

/// Checked: the name asked for; cleaned by the store, as a JWT's.
impl CheckedBody for ExternalUser {
    type Checked = Option<String>;

    fn check(self) -> Result<Option<String>, ProtoError> {
        Ok(self.name)
    }
}

// ---- Rooms ---------------------------------------------------------------------------------

/// `POST /admin/rooms` body.
#[derive(Deserialize, ToSchema)]
pub struct CreateRoom {
    /// `group` (the default) or `direct` (exactly two members).
    pub kind: Option<NewRoomKind>,
    /// A group's name, 1 to 100 characters (trimmed); required for a group.
    pub name: Option<String>,
    /// The members (users, not bots), at most 1,000.
    pub members: Option<Vec<NamedUser>>,
    /// A group anyone may join; default false.
    pub public: Option<bool>,
    /// The group's owner (made a member too); null: only admins can kick.
    pub owner: Option<NamedUser>,
}

/// The rooms an admin creates; bot rooms open with `open_bot`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NewRoomKind {
    #[default]
    Group,
    Direct,
}

/// A checked `POST /admin/rooms`; the users it names are looked up next.
pub enum NewRoom {
    Group {
        name: String,
        public: bool,
        owner: Option<NamedUser>,
        members: Vec<NamedUser>,
    },
    Direct {
        members: Vec<NamedUser>,
    },
}

impl CheckedBody for CreateRoom {
    type Checked = NewRoom;

    fn check(self) -> Result<NewRoom, ProtoError> {
        let members = self.members.unwrap_or_default();
        if members.len() > MAX_GROUP_MEMBERS {
            return Err(ProtoError::bad_request(format!(
                "members: more than {MAX_GROUP_MEMBERS} users"
            )));
        }
        Ok(match self.kind.unwrap_or_default() {
            NewRoomKind::Group => {
                let Some(name) = self.name else {
                    return Err(ProtoError::bad_request("name: a group needs a name"));
                };
                NewRoom::Group {
                    name: group_name(&name)?,
                    public: self.public.unwrap_or(false),
                    owner: self.owner,
                    members,
                }
            }
            NewRoomKind::Direct => NewRoom::Direct { members },
        })
    }
}
/// `POST /admin/rooms/{id}/members` body.
#[derive(Deserialize, ToSchema)]
pub struct AddMember {
    /// The user to add (a person, not a bot).
    pub user: NamedUser,
}

/// Checked: the user it names.
impl CheckedBody for AddMember {
    type Checked = NamedUser;

    fn check(self) -> Result<NamedUser, ProtoError> {
        Ok(self.user)
    }
}

/// `POST /admin/rooms/{id}/messages` body.
#[derive(Deserialize, ToSchema)]
pub struct PostMessage {
    /// Plain text, 1 to 4,000 characters.
    pub body: String,
    /// A template of docs/protocol.md section 6, or null.
    pub template: Option<Template>,
}

/// A checked `POST /admin/rooms/{id}/messages`.
pub struct SystemPost {
    pub body: String,
    pub template: Option<Template>,
}

impl CheckedBody for PostMessage {
    type Checked = SystemPost;

    fn check(self) -> Result<SystemPost, ProtoError> {
        let body = command::body(&self.body)?;
        if let Some(template) = &self.template {
            template
                .check("template")
                .map_err(ProtoError::bad_request)?;
        }
        Ok(SystemPost {
            body,
            template: self.template,
        })
    }
}

// ---- Broadcast and bots -------------------------------------------------------------------

/// `POST /admin/broadcast` body.
#[derive(Deserialize, ToSchema)]
pub struct BroadcastNotice {
    /// Plain text, 1 to 4,000 characters; not stored.
    pub body: String,
}

/// Checked: the text.
impl CheckedBody for BroadcastNotice {
    type Checked = String;

    fn check(self) -> Result<String, ProtoError> {
        command::body(&self.body)
    }
}

/// A definition is checked in the handler, with the id the path gives it.
impl CheckedBody for Document {
    type Checked = Document;

    fn check(self) -> Result<Document, ProtoError> {
        Ok(self)
    }
}
