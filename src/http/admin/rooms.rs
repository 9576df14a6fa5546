//! `/admin/rooms`: create, list, inspect and delete rooms, manage members, read and post
//! messages as the system.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{next_cursor, PageQuery};
use crate::actors::hub::{GetRoom, NotifyUser};
use crate::actors::room::{AdminOp, AdminReply, Post};
use crate::db::models::{RoomKind, UserKind};
use crate::error::ProtoError;
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::protocol::command::{self, DEFAULT_PAGE, MAX_GROUP_MEMBERS, MAX_PAGE};
use crate::protocol::fields::Fields;
use crate::protocol::ids;
use crate::protocol::views::{MessageView, RoomView};
use crate::protocol::Event;

fn room_id(text: &str) -> Result<i64, ApiError> {
    ids::parse_room_id(text).ok_or_else(|| ProtoError::no_such_room().into())
}

async fn user_id(state: &AppState, text: &str) -> Result<i64, ApiError> {
    let user = super::users::find(state, text).await?;
    if user.kind != UserKind::User.as_str() {
        return Err(ProtoError::no_such_user().into());
    }
    Ok(user.id)
}

pub async fn create(
    _: Admin,
    state: web::Data<AppState>,
    body: web::Json<Value>,
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
            let name = command::group_name(fields.string("name")?)?;
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
    Ok(HttpResponse::Created()
        .json(json!({ "room": summary.as_ref().map(RoomView::from_summary) })))
}

#[derive(Deserialize)]
pub struct RoomsQuery {
    kind: Option<String>,
    // Not `#[serde(flatten)]` of a PageQuery: flattened query values arrive as strings.
    limit: Option<i64>,
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

pub async fn list(
    _: Admin,
    state: web::Data<AppState>,
    query: web::Query<RoomsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page();
    let limit = page.limit()?;
    let after = page.after(ids::parse_room_id)?;
    let kind = match query.kind.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            RoomKind::parse(text)
                .ok_or_else(|| ProtoError::bad_request("`kind` must be group, direct or bot"))?,
        ),
    };
    let mut rooms = state.store.list_rooms(kind, after, limit + 1).await?;
    let next = next_cursor(&mut rooms, limit, |room| ids::room_id(room.room.id));
    let rooms: Vec<RoomView> = rooms.iter().map(RoomView::from_summary).collect();
    Ok(HttpResponse::Ok().json(json!({ "rooms": rooms, "next": next })))
}

async fn ask_room(state: &AppState, id: &str, op: AdminOp) -> Result<AdminReply, ApiError> {
    let room = state.hub.send(GetRoom { id: room_id(id)? }).await?;
    Ok(room.send(op).await??)
}

pub async fn show(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match ask_room(&state, &id, AdminOp::Describe).await? {
        AdminReply::Described { room, members } => {
            Ok(HttpResponse::Ok().json(json!({ "room": room, "members": members })))
        }
        AdminReply::Done => Err(ProtoError::internal("the room did not describe itself").into()),
    }
}

pub async fn delete(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    ask_room(&state, &id, AdminOp::Delete).await?;
    log::info!("admin: deleted room {id}");
    Ok(HttpResponse::NoContent().finish())
}

pub async fn add_member(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&id)?;
    let object = super::object(body.into_inner())?;
    let user = super::users::find(&state, Fields(&object).id("user")?).await?;
    if user.kind != UserKind::User.as_str() {
        return Err(ProtoError::no_such_user().into());
    }
    let addr = state.hub.send(GetRoom { id: room }).await?;
    addr.send(AdminOp::AddMember { user }).await??;
    Ok(HttpResponse::Created().json(json!({})))
}

pub async fn remove_member(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (room, user) = path.into_inner();
    let room = room_id(&room)?;
    let user_id = super::users::find(&state, &user).await?.id;
    let addr = state.hub.send(GetRoom { id: room }).await?;
    addr.send(AdminOp::RemoveMember { user_id }).await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    before_seq: Option<i64>,
    limit: Option<i64>,
}

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
    Ok(HttpResponse::Ok().json(json!({ "messages": messages, "has_more": page.has_more })))
}

pub async fn post_message(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Value>,
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
        .send(Post {
            sender: state.system_user.clone(),
            body: text,
            template,
            action: None,
        })
        .await??;
    Ok(HttpResponse::Created().json(json!({ "message": MessageView::from_stored(&message) })))
}
