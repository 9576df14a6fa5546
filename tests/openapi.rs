//! End-to-end: `GET /admin/openapi.json` is a valid OpenAPI 3.x document that documents
//! every admin route the server registers (`palaver::http::admin::ROUTES`, the list
//! `routes()` is built from), with its method, and nothing that is not a route.

mod common;

use std::collections::BTreeSet;

use common::{Backend, Database, Server};
use palaver::http::admin::ROUTES;
use serde_json::Value;

/// Every `$ref` in the document, wherever it is.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

#[actix_rt::test]
async fn the_document_covers_every_admin_route() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (status, _) = server.call("GET", "/admin/openapi.json", None, None).await;
    assert_eq!(status, 401, "the document needs the admin token");
    let (status, doc) = server.admin("GET", "/admin/openapi.json", None).await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc.is_object(), "the document is JSON: {doc}");
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "OpenAPI 3.x, not {version}");
    assert!(doc["info"]["title"].is_string());

    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    for (method, path) in ROUTES {
        let operation = &paths.get(*path).unwrap_or(&Value::Null)[method];
        if !operation.is_object() {
            missing.push(format!("{} {path}", method.to_uppercase()));
            continue;
        }
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.contains_key("401"),
            "{method} {path}: the admin token is required"
        );
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path}: a success answer"
        );
    }
    assert!(
        missing.is_empty(),
        "routes without documentation: {missing:?}"
    );
    assert!(ROUTES.contains(&("get", "/admin/openapi.json")));

    // Nothing documented that the server does not answer.
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            if path.starts_with("/admin") {
                assert!(
                    routes.contains(&(method.clone(), path.clone())),
                    "documented but not routed: {method} {path}"
                );
            }
        }
    }
    assert!(
        paths
            .get("/healthz")
            .is_some_and(|item| item["get"].is_object()),
        "/healthz is listed"
    );

    // Operation ids are unique, and every reference names a schema that is there.
    let mut ids = BTreeSet::new();
    for item in paths.values() {
        for operation in item.as_object().expect("path item").values() {
            if let Some(id) = operation["operationId"].as_str() {
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
            }
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "$ref to a missing schema {name}"
        );
    }
    for schema in ["User", "Room", "Message", "BotDefinition", "ErrorBody"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} is described"
        );
    }
}
