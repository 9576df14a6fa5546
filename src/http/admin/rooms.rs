//! `/admin/rooms`: create, list, inspect and delete rooms, manage members, read and post
//! messages as the system.

use actix::{Message, Recipient};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::requests::{AddMember, CreateRoom, NewRoom, PostMessage, SystemPost};
use super::users::find;
use super::{next_cursor, Answer, PageQuery};
use crate::actors::messages::{AdminOp, AdminReply, GetRoom, NotifyUser, Post, RoomHandle};
use crate::actors::screen::{report_flagged, screen};
use crate::db::models::{RoomKind, StoredMessage, UserKind};
use crate::error::ProtoError;
use crate::error::{Answered, Mailbox};
use crate::http::auth::Admin;
use crate::http::error::{ApiError, Empty, ErrorBody};
use crate::http::json_body::{Json, NamedUser};
use crate::http::AppState;
use crate::model::UserId;
use crate::protocol::command::{DEFAULT_PAGE, MAX_PAGE};
use crate::protocol::ids::{MessageId, RoomId, UserRef};
use crate::protocol::template::Template;
use crate::protocol::views::{MemberView, MessageView, RoomView};
use crate::protocol::Event;

/// A person (not a bot) a request names.
async fn person(state: &AppState, named: &NamedUser) -> Result<UserId, ApiError> {
    let user = find(state, named.user()?).await?;
    if user.kind != UserKind::User {
        return Err(ProtoError::no_such_user().into());
    }
    Ok(user.id)
}

/// The people a request names, in its order.
async fn people(state: &AppState, named: &[NamedUser]) -> Result<Vec<UserId>, ApiError> {
    let mut ids = Vec::with_capacity(named.len());
    for user in named {
        ids.push(person(state, user).await?);
    }
    Ok(ids)
}

/// A request the admin API makes of a room's actor, and the room's address that takes it.
trait RoomRequest: Message<Result = Result<Self::Reply, ProtoError>> + Send + Sized + 'static {
    type Reply: Send + 'static;

    fn address(room: &RoomHandle) -> &Recipient<Self>;
}

impl RoomRequest for AdminOp {
    type Reply = AdminReply;

    fn address(room: &RoomHandle) -> &Recipient<Self> {
        &room.admin
    }
}

impl RoomRequest for Post {
    type Reply = StoredMessage;

    fn address(room: &RoomHandle) -> &Recipient<Self> {
        &room.post
    }
}

/// Finds the room (its actor, started if need be; a room that does not exist answers
/// `not_found`), then asks it.
async fn ask_room<R: RoomRequest>(
    state: &AppState,
    id: RoomId,
    request: R,
) -> Result<R::Reply, ApiError> {
    let room = state
        .hub
        .send(GetRoom { id })
        .await
        .answered_by(Mailbox::Hub)?;
    Ok(R::address(&room)
        .send(request)
        .await
        .answered_by(Mailbox::Room)??)
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
    pub members: Vec<MemberView>,
    pub room: RoomView,
}

/// A page of messages, oldest first.
#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    pub has_more: bool,
    pub messages: Vec<MessageView>,
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
    responses(
        (status = 201, description = "Created", body = RoomBody),
        (status = 400, description = "bad_request: a missing or ill-typed field, a bad kind or name", body = ErrorBody),
        (status = 404, description = "not_found: a member or the owner is not a user", body = ErrorBody),
    ),
)]
pub async fn create(Admin(state): Admin, room: Json<CreateRoom>) -> Answer {
    let room = match room.into_inner() {
        NewRoom::Group {
            name,
            public,
            owner,
            members,
        } => {
            let ids = people(&state, &members).await?;
            let owner = match &owner {
                Some(owner) => Some(person(&state, owner).await?),
                None => None,
            };
            state.store.create_group(&name, public, owner, ids).await?
        }
        NewRoom::Direct { members } => {
            let mut ids = people(&state, &members).await?;
            ids.sort_unstable();
            ids.dedup();
            let [first, second] = ids[..] else {
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
    log::info!("admin: created room {}", room.id);
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
    responses(
        (status = 200, description = "A page of rooms", body = RoomPage),
        (status = 400, description = "bad_request: a bad kind, limit or cursor", body = ErrorBody),
    ),
)]
pub async fn list(Admin(state): Admin, query: web::Query<RoomsQuery>) -> Answer {
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
    let next = next_cursor(&mut rooms, limit, |room| room.room.id.to_string());
    let rooms = crate::actors::room_list::room_views(&state.store, &rooms, None).await?;
    Ok(HttpResponse::Ok().json(RoomPage { next, rooms }))
}

/// One room and its members.
#[utoipa::path(
    get,
    operation_id = "rooms_show",
    path = "/admin/rooms/{id}",
    tag = "rooms",
    responses(
        (status = 200, description = "The room", body = RoomDetail),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
    ),
)]
pub async fn show(Admin(state): Admin, id: web::Path<RoomId>) -> Answer {
    match ask_room(&state, *id, AdminOp::Describe).await? {
        AdminReply::Described { mut room, members } => {
            let mut extras = state.store.room_extras(None, vec![*id]).await?;
            if let Some(extras) = extras.remove(&*id) {
                crate::actors::room_list::complete(&mut room, extras, None, |_| false);
            }
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
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
    ),
)]
pub async fn delete(Admin(state): Admin, id: web::Path<RoomId>) -> Answer {
    ask_room(&state, *id, AdminOp::Delete).await?;
    log::info!("admin: deleted room {id}");
    Ok(HttpResponse::NoContent().finish())
}

/// Add a user to a group; they get `room_added`, the room's connections `member_joined`.
#[utoipa::path(
    post,
    operation_id = "rooms_add_member",
    path = "/admin/rooms/{id}/members",
    tag = "rooms",
    responses(
        (status = 201, description = "Added (or already a member)", body = Empty),
        (status = 400, description = "bad_request: a missing field, or not a group", body = ErrorBody),
        (status = 404, description = "not_found: no such room or user", body = ErrorBody),
    ),
)]
pub async fn add_member(
    Admin(state): Admin,
    room: web::Path<RoomId>,
    user: Json<AddMember>,
) -> Answer {
    let user = find(&state, user.into_inner().user()?).await?;
    if user.kind != UserKind::User {
        return Err(ProtoError::no_such_user().into());
    }
    ask_room(&state, *room, AdminOp::AddMember { user }).await?;
    Ok(HttpResponse::Created().json(Empty {}))
}

/// Remove a member; they get `room_removed`.
#[utoipa::path(
    delete,
    operation_id = "rooms_remove_member",
    path = "/admin/rooms/{id}/members/{user}",
    tag = "rooms",
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "bad_request: the room is not a group", body = ErrorBody),
        (status = 404, description = "not_found: no such room, user or member", body = ErrorBody),
    ),
)]
pub async fn remove_member(Admin(state): Admin, path: web::Path<(RoomId, UserRef)>) -> Answer {
    let (room, user) = path.into_inner();
    let user_id = find(&state, &user).await?.id;
    ask_room(&state, room, AdminOp::RemoveMember { user_id }).await?;
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
    responses(
        (status = 200, description = "Messages, oldest first", body = MessagePage),
        (status = 400, description = "bad_request: `limit` or `before_seq` out of range", body = ErrorBody),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
    ),
)]
pub async fn messages(
    Admin(state): Admin,
    id: web::Path<RoomId>,
    query: web::Query<MessagesQuery>,
) -> Answer {
    let room = *id;
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
        .full_page_before(room, query.before_seq, limit)
        .await?;
    let messages: Vec<MessageView> = page
        .messages
        .iter()
        .map(|message| MessageView::from_full(message, None))
        .collect();
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
    responses(
        (status = 201, description = "Stored and delivered", body = PostedMessage),
        (status = 400, description = "bad_request: no body, or a bad template", body = ErrorBody),
        (status = 403, description = "forbidden: the body matches a content rule for `all` that rejects (the message names it)", body = ErrorBody),
        (status = 404, description = "not_found: no such room", body = ErrorBody),
        (status = 413, description = "too_large: a body over 4,000 characters", body = ErrorBody),
    ),
)]
pub async fn post_message(
    Admin(state): Admin,
    room: web::Path<RoomId>,
    post: Json<PostMessage>,
) -> Answer {
    let SystemPost { body, template } = post.into_inner();
    let rules = state.store.content_rules();
    let screened = screen(&rules, state.system_user.kind, body)?;
    let post = Post {
        sender: state.system_user.clone(),
        body: screened.body,
        template: template.as_ref().map(Template::to_value),
        action: None,
    };
    let message = ask_room(&state, *room, post).await?;
    if !screened.flagged.is_empty() {
        report_flagged(state.store.clone(), message.clone(), screened.flagged).await;
    }
    Ok(HttpResponse::Created().json(PostedMessage {
        message: MessageView::from_stored(&message),
    }))
}

/// Delete any message of a room: it leaves a tombstone (docs/protocol.md section 11) and the
/// room's joined connections get `message_updated`. Deleting a deleted message changes
/// nothing.
#[utoipa::path(
    delete,
    operation_id = "rooms_delete_message",
    path = "/admin/rooms/{id}/messages/{message}",
    tag = "rooms",
    responses(
        (status = 204, description = "Deleted (or deleted already)"),
        (status = 404, description = "not_found: no such room, or no such message in it", body = ErrorBody),
    ),
)]
pub async fn delete_message(Admin(state): Admin, path: web::Path<(RoomId, MessageId)>) -> Answer {
    let (room, message) = path.into_inner();
    if message.room != room {
        return Err(ProtoError::not_found("no such message in this room").into());
    }
    ask_room(&state, room, AdminOp::DeleteMessage { seq: message.seq }).await?;
    log::info!("admin: deleted message {message}");
    Ok(HttpResponse::NoContent().finish())
}
