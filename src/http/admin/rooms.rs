//! `/admin/rooms`: create, list, inspect and delete rooms, manage members, read and post
//! messages as the system.

use crate::http::json_body::JsonBody;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{next_cursor, PageQuery};
use crate::actors::messages::{AdminOp, AdminReply, GetRoom, NotifyUser, Post};
use crate::db::models::{RoomKind, UserKind};
use crate::error::ProtoError;
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::error::{Empty, ErrorBody};
use crate::http::AppState;
use crate::protocol::command::{self, DEFAULT_PAGE, MAX_GROUP_MEMBERS, MAX_PAGE};
use crate::protocol::fields::Fields;
use crate::protocol::ids::RoomId;
use crate::protocol::views::{MessageView, RoomView, UserView};
use crate::protocol::Event;

/// A room id from a path; one that is not canonical is answered like a room that does not
/// exist.
fn room_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<RoomId>()
        .map(|RoomId(id)| id)
        .map_err(|_| ProtoError::no_such_room().into())
}

/// A person (not a bot) an admin names.
async fn user_id(state: &AppState, text: &str) -> Result<i64, ApiError> {
    let user = super::users::find(state, text).await?;
    if user.kind != UserKind::User {
        return Err(ProtoError::no_such_user().into());
    }
    Ok(user.id)
}

/// `POST /admin/rooms` body.
#[derive(ToSchema)]
pub struct CreateRoom {
    /// `group` (the default) or `direct` (exactly two members).
    #[schema(nullable = false, default = "group", pattern = "^(group|direct)$")]
    pub kind: Option<String>,
    /// A group's name, 1 to 100 characters (trimmed); required for a group.
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// User ids (`u_N`), at most 1,000.
    #[schema(nullable = false)]
    pub members: Option<Vec<String>>,
    /// A group anyone may join; default false.
    #[schema(nullable = false)]
    pub public: Option<bool>,
    /// The group's owner (made a member too); null: only admins can kick.
    pub owner: Option<String>,
}

/// A room as an admin sees it (`read_seq` 0).
#[derive(Serialize, ToSchema)]
pub struct RoomBody {
    pub room: Option<RoomView>,
}

/// A page of rooms, by id.
#[derive(Serialize, ToSchema)]
pub struct RoomPage {
    /// The cursor of the next page (`after`); null on the last page.
    pub next: Option<String>,
    pub rooms: Vec<RoomView>,
}

/// A room and its members.
#[derive(Serialize, ToSchema)]
pub struct RoomDetail {
    pub members: Vec<UserView>,
    pub room: RoomView,
}

/// `POST /admin/rooms/{id}/members` body.
#[derive(ToSchema)]
pub struct AddMember {
    /// A user id (`u_N`).
    pub user: String,
}

/// A page of messages, oldest first.
#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub has_more: bool,
    pub messages: Vec<MessageView>,
}

/// `POST /admin/rooms/{id}/messages` body.
#[derive(ToSchema)]
pub struct PostMessage {
    /// Plain text, 1 to 4,000 characters.
    pub body: String,
    /// A template of docs/protocol.md section 6 (`{"kind":"buttons",…}`), or null.
    pub template: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct PostedMessage {
    pub message: MessageView,
}

/// Create a group (or a direct room); its members get `room_added`.
#[utoipa::path(
    post,
    operation_id = "rooms_create",
    path = "/admin/rooms",
    tag = "rooms",
    request_body = CreateRoom,
    responses(
        (status = 201, description = "Created", body = RoomBody),
        (status = 400, description = "bad_request: a missing or ill-typed field, a bad kind or name", body = ErrorBody),
        (status = 404, description = "not_found: a member or the owner is not a user", body = ErrorBody),
    ),
)]
pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let object = super::object(body.into_inner())?;
    let fields = Fields(&object);
    let kind = match fields.opt_string("kind")?.unwrap_or("group") {
        "group" => RoomKind::Group,
        "direct" => RoomKind::Direct,
        other => {
            return Err(ProtoError::bad_request(format!(
            "`kind` must be \"group\" or \"direct\", not {other:?} (bot rooms open with open_bot)"
        ))
            .into())
        }
    };
    let mut members = Vec::new();
    for member in fields.id_list("members", MAX_GROUP_MEMBERS)? {
        members.push(user_id(&state, member).await?);
    }
    let room = match kind {
        RoomKind::Group => {
            let name = crate::protocol::names::group_name(fields.string("name")?)?;
            let public = fields.bool_or("public", false)?;
            let owner = match fields.opt_id("owner")? {
                Some(owner) => Some(user_id(&state, owner).await?),
                None => None,
            };
            state
                .store
                .create_group(&name, public, owner, members.clone())
                .await?
        }
        _ => {
            members.sort_unstable();
            members.dedup();
            let [first, second] = members[..] else {
                return Err(ProtoError::bad_request(
                    "a direct room needs exactly two different members",
                )
                .into());
            };
            state
                .store
                .open_pair(RoomKind::Direct, first, second)
                .await?
                .0
        }
    };
    let Some(loaded) = state.store.load_room(room.id).await? else {
        return Err(ProtoError::no_such_room().into());
    };
    for (user, _) in &loaded.members {
        if let Some(summary) = state.store.room_summary(room.id, Some(user.id)).await? {
            state.hub.do_send(NotifyUser {
                user_id: user.id,
                except: None,
                frame: Event::RoomAdded {
                    room: RoomView::from_summary(&summary),
                }
                .frame(),
            });
        }
    }
    let summary = state.store.room_summary(room.id, None).await?;
    log::info!("admin: created room r_{}", room.id);
    Ok(HttpResponse::Created().json(RoomBody {
        room: summary.as_ref().map(RoomView::from_summary),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoomsQuery {
    /// Only rooms of this kind: `group`, `direct` or `bot`.
    kind: Option<String>,
    // Not `#[serde(flatten)]` of a PageQuery: flattened query values arrive as strings.
    /// Page size, 1 to 200 (default 50).
    limit: Option<i64>,
    /// Continue after this room id (the previous page's `next`).
    after: Option<String>,
}

impl RoomsQuery {
    fn page(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            after: self.after.clone(),
        }
    }
}

/// List rooms, by id.
#[utoipa::path(
    get,
    operation_id = "rooms_list",
    path = "/admin/rooms",
    tag = "rooms",
    params(RoomsQuery),
    responses(
        (status = 200, description = "A page of rooms", body = RoomPage),
        (status = 400, description = "bad_request: a bad kind, limit or cursor", body = ErrorBody),
    ),
)]
pub async fn list(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<RoomsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page();
    let limit = page.limit()?;
    let after = page.after(|text| text.parse().ok().map(|RoomId(id)| id))?;
    let kind = match query.kind.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            RoomKind::parse(text)
                .ok_or_else(|| ProtoError::bad_request("`kind` must be group, direct or bot"))?,
        ),
    };
    let mut rooms = state.store.list_rooms(kind, after, limit + 1).await?;
    let next = next_cursor(&mut rooms, limit, |room| RoomId(room.room.id).to_string());
    let rooms: Vec<RoomView> = rooms.iter().map(RoomView::from_summary).collect();
    Ok(HttpResponse::Ok().json(RoomPage { next, rooms }))
}

async fn ask_room(state: &AppState, id: &str, op: AdminOp) -> Result<AdminReply, ApiError> {
    let room = state.hub.send(GetRoom { id: room_id(id)? }).await?;
    Ok(room.admin.send(op).await??)
}

/// One room and its members.
#[utoipa::path(
    get,
    operation_id = "rooms_show",
    path = "/admin/rooms/{id}",
    tag = "rooms",
    params(("id" = String, Path, description = "`r_N`")),
    responses(
        (status = 200, description = "The room", body = RoomDetail),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
    ),
)]
pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match ask_room(&state, &id, AdminOp::Describe).await? {
        AdminReply::Described { room, members } => {
            Ok(HttpResponse::Ok().json(RoomDetail { members, room }))
        }
        AdminReply::Done => Err(ProtoError::internal("the room did not describe itself").into()),
    }
}

/// Delete a room with its messages; its members get `room_removed`.
#[utoipa::path(
    delete,
    operation_id = "rooms_delete",
    path = "/admin/rooms/{id}",
    tag = "rooms",
    params(("id" = String, Path, description = "`r_N`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
    ),
)]
pub async fn delete(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    ask_room(&state, &id, AdminOp::Delete).await?;
    log::info!("admin: deleted room {id}");
    Ok(HttpResponse::NoContent().finish())
}

/// Add a user to a group; they get `room_added`, the room's connections `member_joined`.
#[utoipa::path(
    post,
    operation_id = "rooms_add_member",
    path = "/admin/rooms/{id}/members",
    tag = "rooms",
    params(("id" = String, Path, description = "`r_N`")),
    request_body = AddMember,
    responses(
        (status = 201, description = "Added (or already a member)", body = Empty),
        (status = 400, description = "bad_request: a missing field, or not a group", body = ErrorBody),
        (status = 404, description = "not_found: no such room or user", body = ErrorBody),
    ),
)]
pub async fn add_member(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&id)?;
    let object = super::object(body.into_inner())?;
    let user = super::users::find(&state, Fields(&object).id("user")?).await?;
    if user.kind != UserKind::User {
        return Err(ProtoError::no_such_user().into());
    }
    let addr = state.hub.send(GetRoom { id: room }).await?;
    addr.admin.send(AdminOp::AddMember { user }).await??;
    Ok(HttpResponse::Created().json(Empty {}))
}

/// Remove a member; they get `room_removed`.
#[utoipa::path(
    delete,
    operation_id = "rooms_remove_member",
    path = "/admin/rooms/{id}/members/{user}",
    tag = "rooms",
    params(
        ("id" = String, Path, description = "`r_N`"),
        ("user" = String, Path, description = "`u_N`"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "bad_request: the room is not a group", body = ErrorBody),
        (status = 404, description = "not_found: no such room, user or member", body = ErrorBody),
    ),
)]
pub async fn remove_member(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room, user) = path.into_inner();
    let room = room_id(&room)?;
    let user_id = super::users::find(&state, &user).await?.id;
    let addr = state.hub.send(GetRoom { id: room }).await?;
    addr.admin.send(AdminOp::RemoveMember { user_id }).await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// The messages just before this `seq` (default: the newest).
    before_seq: Option<i64>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<i64>,
}

/// Read a room's history, paging backwards.
#[utoipa::path(
    get,
    operation_id = "rooms_messages",
    path = "/admin/rooms/{id}/messages",
    tag = "rooms",
    params(("id" = String, Path, description = "`r_N`"), MessagesQuery),
    responses(
        (status = 200, description = "Messages, oldest first", body = MessagePage),
        (status = 400, description = "bad_request: `limit` or `before_seq` out of range", body = ErrorBody),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
    ),
)]
pub async fn messages(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&id)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(
            ProtoError::bad_request(format!("`limit` must be from 1 to {MAX_PAGE}")).into(),
        );
    }
    if query.before_seq.is_some_and(|seq| seq < 0) {
        return Err(ProtoError::bad_request("`before_seq` must not be negative").into());
    }
    if state.store.room(room).await?.is_none() {
        return Err(ProtoError::no_such_room().into());
    }
    let page = state
        .store
        .messages_before(room, query.before_seq, limit)
        .await?;
    let messages: Vec<MessageView> = page.messages.iter().map(MessageView::from_stored).collect();
    Ok(HttpResponse::Ok().json(MessagePage {
        has_more: page.has_more,
        messages,
    }))
}

/// Post a message as the system; every joined connection gets the `message` event.
#[utoipa::path(
    post,
    operation_id = "rooms_post_message",
    path = "/admin/rooms/{id}/messages",
    tag = "rooms",
    params(("id" = String, Path, description = "`r_N`")),
    request_body = PostMessage,
    responses(
        (status = 201, description = "Stored and delivered", body = PostedMessage),
        (status = 400, description = "bad_request: no body, or a bad template", body = ErrorBody),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
        (status = 413, description = "too_large: a body over 4,000 characters", body = ErrorBody),
    ),
)]
pub async fn post_message(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&id)?;
    let object = super::object(body.into_inner())?;
    let text = command::body(Fields(&object).string("body")?)?;
    let template = match object.get("template") {
        None | Some(Value::Null) => None,
        Some(template) => Some(crate::protocol::template::validate(template)?),
    };
    let addr = state.hub.send(GetRoom { id: room }).await?;
    let message = addr
        .post
        .send(Post {
            sender: state.system_user.clone(),
            body: text,
            template,
            action: None,
        })
        .await??;
    Ok(HttpResponse::Created().json(PostedMessage {
        message: MessageView::from_stored(&message),
    }))
}
