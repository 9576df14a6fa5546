//! `/admin/bots`: list, put (create or replace) and delete bot definitions at run time.

use crate::http::json_body::JsonBody;
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::actors::hub::{InstallBot, ListBots, RemoveBot};
use crate::bots::definition::Document;
use crate::bots::Definition;
use crate::error::ProtoError;
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::error::ErrorBody;
use crate::http::AppState;

/// Every running bot's definition, by id.
#[derive(Serialize, ToSchema)]
pub struct BotList<'a> {
    pub bots: Vec<&'a Document>,
}

/// A stored definition, as it will be given back.
#[derive(Serialize, ToSchema)]
pub struct BotBody<'a> {
    pub bot: &'a Document,
}

/// The definitions of the running bots.
#[utoipa::path(
    get,
    operation_id = "bots_list",
    path = "/admin/bots",
    tag = "bots",
    responses((status = 200, description = "Every running bot", body = BotList)),
)]
pub async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let definitions = state.hub.send(ListBots).await?;
    let bots: Vec<_> = definitions
        .iter()
        .map(|definition| &definition.document)
        .collect();
    Ok(HttpResponse::Ok().json(BotList { bots }))
}

/// Create or replace a bot; a running bot picks up the new definition at its next turn.
#[utoipa::path(
    put,
    operation_id = "bots_put",
    path = "/admin/bots/{id}",
    tag = "bots",
    params(("id" = String, Path, description = "The bot's id (`mathbot`); the body's `id`, when given, must match")),
    request_body = Document,
    responses(
        (status = 200, description = "Replaced", body = BotBody),
        (status = 201, description = "Created", body = BotBody),
        (status = 400, description = "bad_request: the definition is not valid; the message names the place", body = ErrorBody),
        (status = 409, description = "conflict: the bot's name or id is taken by a user", body = ErrorBody),
    ),
)]
pub async fn put(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut value = body.into_inner();
    let Value::Object(object) = &mut value else {
        return Err(ProtoError::bad_request("a bot definition is a JSON object").into());
    };
    match object.get("id") {
        None => {
            object.insert("id".into(), Value::String(id.to_string()));
        }
        Some(Value::String(given)) if *given == *id => {}
        Some(_) => {
            return Err(ProtoError::bad_request(format!(
                "id: the body's id must be {:?}, as in the path",
                *id
            ))
            .into())
        }
    }
    let definition = Definition::from_json(&value).map_err(ProtoError::bad_request)?;
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
        .await?;
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
    params(("id" = String, Path, description = "The bot's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "not_found: no such bot", body = ErrorBody),
    ),
)]
pub async fn delete(
    _: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let stored = state.store.delete_bot(&id).await?;
    let running = state.hub.send(RemoveBot { id: id.to_string() }).await?;
    if !stored && !running {
        return Err(ProtoError::not_found("no such bot").into());
    }
    log::info!("admin: deleted bot {id}");
    Ok(HttpResponse::NoContent().finish())
}
