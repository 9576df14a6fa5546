//! `/admin/bots`: list, put (create or replace) and delete bot definitions at run time. The
//! list is the store's, the record every node runs its bots from.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::Answer;
use crate::actors::hub::{InstallBot, RemoveBot};
use crate::bots::definition::Document;
use crate::bots::{loader, Definition};
use crate::error::ProtoError;
use crate::error::{Answered, Mailbox};
use crate::http::auth::Admin;
use crate::http::error::ErrorBody;
use crate::http::json_body::Json;

/// Every bot's definition, by id.
#[derive(Serialize, ToSchema)]
pub struct BotList {
    pub bots: Vec<Document>,
}

/// A stored definition, as it will be given back.
#[derive(Serialize, ToSchema)]
pub struct BotBody<'a> {
    pub bot: &'a Document,
}

/// The bots every node runs: the definitions in the store, by id. A stored definition that
/// no longer checks runs nowhere (`server.rs` leaves it off): it is left out, and logged.
#[utoipa::path(
    get,
    operation_id = "bots_list",
    path = "/admin/bots",
    tag = "bots",
    responses((status = 200, description = "Every bot, by id", body = BotList)),
)]
pub async fn list(Admin(state): Admin) -> Answer {
    let mut bots = Vec::new();
    for (stored, user) in state.store.bots().await? {
        match loader::parse(&stored) {
            Ok(definition) => bots.push(definition.document),
            Err(err) => log::warn!(
                "admin: stored bot {:?} is not valid and runs nowhere: {err}",
                user.handle
            ),
        }
    }
    Ok(HttpResponse::Ok().json(BotList { bots }))
}

/// Create or replace a bot (the path names it; the body's `id`, when given, must match); a
/// running bot picks up the new definition at its next turn.
#[utoipa::path(
    put,
    operation_id = "bots_put",
    path = "/admin/bots/{id}",
    tag = "bots",
    responses(
        (status = 200, description = "Replaced", body = BotBody),
        (status = 201, description = "Created", body = BotBody),
        (status = 400, description = "bad_request: the definition is not valid; the message names the place", body = ErrorBody),
        (status = 409, description = "conflict: the bot's name or id is taken by a user", body = ErrorBody),
    ),
)]
pub async fn put(Admin(state): Admin, id: web::Path<String>, body: Json<Document>) -> Answer {
    let mut document = body.into_inner();
    match &document.id {
        None => document.id = Some(id.to_string()),
        Some(given) if *given == *id => {}
        Some(_) => {
            return Err(ProtoError::bad_request(format!(
                "id: the body's id must be {:?}, as in the path",
                *id
            ))
            .into())
        }
    }
    let definition = Definition::check(document).map_err(ProtoError::bad_request)?;
    let document = serde_json::to_string(&definition.document)
        .map_err(|err| ProtoError::internal(err.to_string()))?;
    let (user, created) = state
        .store
        .put_bot(definition.id(), &definition.document.name, document)
        .await?;
    let definition = Arc::new(definition);
    state
        .hub
        .send(InstallBot {
            definition: definition.clone(),
            user,
            share: true,
        })
        .await
        .answered_by(Mailbox::Hub)?;
    log::info!(
        "admin: {} bot {}",
        if created { "created" } else { "replaced" },
        definition.id()
    );
    let body = BotBody {
        bot: &definition.document,
    };
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Delete a bot; its user and old messages stay.
#[utoipa::path(
    delete,
    operation_id = "bots_delete",
    path = "/admin/bots/{id}",
    tag = "bots",
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "not_found: no such bot", body = ErrorBody),
    ),
)]
pub async fn delete(Admin(state): Admin, id: web::Path<String>) -> Answer {
    let stored = state.store.delete_bot(&id).await?;
    let running = state
        .hub
        .send(RemoveBot { id: id.to_string() })
        .await
        .answered_by(Mailbox::Hub)?;
    if !stored && !running {
        return Err(ProtoError::not_found("no such bot").into());
    }
    log::info!("admin: deleted bot {id}");
    Ok(HttpResponse::NoContent().finish())
}
