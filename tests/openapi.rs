//! End-to-end: `GET /admin/openapi.json` is a valid OpenAPI 3.x document that documents
//! every admin route the server registers (`palaver::http::admin::ROUTES`, the list
//! `routes()` is built from), with its method, and nothing that is not a route.

mod common;

use std::collections::BTreeSet;

use common::{Backend, Database, Server};
use palaver::http::admin::ROUTES;
use serde_json::{json, Value};

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

// ---- Every documented request body is what its handler reads ----------------------------

/// `schema` with its `$ref` followed into the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(target) => {
            let name = target.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The alternatives of a schema (`oneOf`/`anyOf`), or the schema itself.
fn alternatives<'a>(doc: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            return options
                .iter()
                .flat_map(|option| alternatives(doc, option))
                .collect();
        }
    }
    vec![schema]
}

/// The JSON types a schema allows.
fn types(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for option in alternatives(doc, schema) {
        match &option["type"] {
            Value::String(kind) => {
                found.insert(kind.clone());
            }
            Value::Array(kinds) => {
                found.extend(kinds.iter().filter_map(Value::as_str).map(String::from));
            }
            _ if option["enum"].is_array() => {
                found.insert("string".to_string());
            }
            _ if option["properties"].is_object() || option["allOf"].is_array() => {
                found.insert("object".to_string());
            }
            _ => {}
        }
    }
    found
}

/// An object schema's properties and required names (an `allOf` adds up its parts).
fn object(doc: &Value, schema: &Value) -> (serde_json::Map<String, Value>, Vec<String>) {
    let schema = resolve(doc, schema);
    let mut properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let (more, also) = object(doc, part);
        properties.extend(more);
        required.extend(also);
    }
    (properties, required)
}

/// A value the schema allows: its example, its first enum value, or one by type (objects
/// with their required properties).
fn sample(doc: &Value, schema: &Value) -> Value {
    let options = alternatives(doc, schema);
    let Some(option) = options
        .iter()
        .find(|option| option["type"] != "null")
        .or(options.first())
    else {
        return Value::Null;
    };
    if let Some(example) = option["examples"].get(0).or(option.get("example")) {
        return example.clone();
    }
    if let Some(first) = option["enum"].get(0) {
        return first.clone();
    }
    let kinds = types(doc, option);
    if kinds.contains("object") {
        let (properties, required) = object(doc, option);
        return required
            .iter()
            .map(|name| (name.clone(), sample(doc, &properties[name])))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    for (kind, value) in [
        ("string", json!("x")),
        ("integer", json!(1)),
        ("number", json!(1)),
        ("boolean", json!(true)),
        ("array", json!([])),
    ] {
        if kinds.contains(kind) {
            return value;
        }
    }
    Value::Null
}

/// A value of a JSON type the schema does not allow.
fn ill_typed(doc: &Value, schema: &Value) -> Value {
    let kinds = types(doc, schema);
    [json!(12345), json!("x"), json!(true), json!({"x": 1})]
        .into_iter()
        .find(|value| {
            let kind = match value {
                Value::Number(_) => ["integer", "number"].iter().any(|k| kinds.contains(*k)),
                Value::String(_) => kinds.contains("string"),
                Value::Bool(_) => kinds.contains("boolean"),
                _ => kinds.contains("object"),
            };
            !kind
        })
        .unwrap_or(Value::Null)
}

/// The route's path with each `{…}` filled in with a sample of its documented schema.
fn filled(doc: &Value, path: &str, operation: &Value) -> String {
    let mut filled = path.to_string();
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        if parameter["in"] == "path" {
            let name = parameter["name"].as_str().expect("a name");
            let value = sample(doc, &parameter["schema"]);
            let text = value
                .as_str()
                .expect("a path parameter is a string")
                .to_string();
            filled = filled.replace(&format!("{{{name}}}"), &text);
        }
    }
    assert!(
        !filled.contains('{'),
        "{path}: a path parameter is not documented"
    );
    filled
}

/// Whether an answer says the body's shape was wrong (rather than its values).
fn refused_shape(answer: &(u16, Value)) -> bool {
    let message = answer.1["error"]["message"].as_str().unwrap_or_default();
    answer.0 == 400
        && [
            "missing field",
            "invalid type",
            "unknown variant",
            "must be a JSON object",
        ]
        .iter()
        .any(|words| message.contains(words))
}

/// For every operation with a documented JSON body, a round of requests: each documented
/// property sent with a JSON type the document does not allow is refused with 400 naming
/// it; each required one left out is refused as missing; each optional one may be left out;
/// and a body with every property documented is not refused for its shape. Together with
/// the body being the handler's own type (src/http/admin/inputs.rs), the document and the
/// parser cannot drift apart.
#[actix_rt::test]
async fn every_documented_request_body_is_what_its_handler_reads() {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (_, doc) = server.admin("GET", "/admin/openapi.json", None).await;
    let paths = doc["paths"].as_object().expect("paths");
    let mut bodies = 0;
    for (path, item) in paths {
        if !path.starts_with("/admin") {
            continue;
        }
        for (method, operation) in item.as_object().expect("path item") {
            let Some(schema) =
                operation["requestBody"]["content"]["application/json"].get("schema")
            else {
                assert!(
                    operation["requestBody"].is_null(),
                    "{method} {path}: a body that is not JSON"
                );
                continue;
            };
            bodies += 1;
            let method = method.to_uppercase();
            let target = filled(&doc, path, operation);
            let (properties, required) = object(&doc, schema);
            assert!(
                !properties.is_empty(),
                "{method} {path}: a body without properties"
            );
            let everything: serde_json::Map<String, Value> = properties
                .iter()
                .map(|(name, schema)| (name.clone(), sample(&doc, schema)))
                .collect();
            let answer = server
                .admin(&method, &target, Some(everything.clone().into()))
                .await;
            assert!(
                !refused_shape(&answer),
                "{method} {path} {everything:?}: {answer:?}"
            );
            for (name, schema) in &properties {
                let mut body = everything.clone();
                body.insert(name.clone(), ill_typed(&doc, schema));
                let (status, answer) = server.admin(&method, &target, Some(body.into())).await;
                assert_eq!(status, 400, "{method} {path}: `{name}` ill-typed: {answer}");
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains(name.as_str()),
                    "{method} {path}: the answer to an ill-typed `{name}` names it: {message}"
                );
                let mut body = everything.clone();
                body.remove(name);
                let answer = server.admin(&method, &target, Some(body.into())).await;
                let missing = answer.1["error"]["message"]
                    .as_str()
                    .is_some_and(|message| message.contains(&format!("missing field `{name}`")));
                if required.contains(name) {
                    assert!(
                        answer.0 == 400 && missing,
                        "{method} {path}: `{name}` is documented as required: {answer:?}"
                    );
                } else {
                    assert!(
                        !refused_shape(&answer),
                        "{method} {path}: `{name}` is documented as optional: {answer:?}"
                    );
                }
            }
        }
    }
    assert!(bodies >= 6, "only {bodies} documented request bodies");
}
