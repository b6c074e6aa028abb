//! Every response the tests read is checked against the OpenAPI document: its status must
//! be one the operation declares, and its body must match the schema declared for that
//! status and content type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        serde_json::from_str(&bellhop_server::openapi_json()).expect("the document is JSON")
    })
}

/// The document's path template that `path` (without its query) matches.
fn template_of(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    document()["paths"]
        .as_object()?
        .keys()
        .find(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    (part.starts_with('{') && !segment.is_empty()) || part == segment
                })
        })
        .map(String::as_str)
}

/// A validator for one schema of the document, its `$ref`s resolved against the
/// document's components.
fn validator(schema: &Value) -> Arc<jsonschema::Validator> {
    static VALIDATORS: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let key = schema.to_string();
    let mut validators = VALIDATORS.get_or_init(Default::default).lock().unwrap();
    Arc::clone(validators.entry(key).or_insert_with(|| {
        let root = json!({
            "allOf": [schema],
            "components": document()["components"],
        });
        Arc::new(jsonschema::draft202012::new(&root).expect("the schema compiles"))
    }))
}

fn check_value(what: &str, schema: &Value, value: &Value) {
    let validator = validator(schema);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the body does not match the OpenAPI document:\n{}\nbody: {value}",
        errors.join("\n")
    );
}

/// The `data` of each event of a Server-Sent Events body, OpenAI's `[DONE]` left out.
fn event_data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|block| {
            let data: String = block
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect();
            (!data.is_empty() && data != "[DONE]")
                .then(|| serde_json::from_str(&data).expect("each event carries JSON"))
        })
        .collect()
}

/// The schemas of a stream's events where the document describes each event itself (its
/// name, and its data as JSON by `contentSchema` or as a fixed text such as `[DONE]`).
fn event_branches(schema: &Value) -> Option<&'static Vec<Value>> {
    let name = schema["$ref"]
        .as_str()?
        .strip_prefix("#/components/schemas/")?;
    let branches = document()["components"]["schemas"][name]["oneOf"].as_array()?;
    branches
        .iter()
        .all(|branch| {
            let data = &branch["properties"]["data"];
            data.get("contentSchema").is_some() || data.get("enum").is_some()
        })
        .then_some(branches)
}

/// Checks each event of `body` against the branch of its name, and its data against that
/// branch's `contentSchema`.
fn check_named_events(what: &str, branches: &[Value], body: &str) {
    // Keep-alive comments carry no data.
    for block in body
        .split("\n\n")
        .filter(|block| block.lines().any(|line| line.starts_with("data: ")))
    {
        let name = block
            .lines()
            .find_map(|line| line.strip_prefix("event: "))
            .unwrap_or("message");
        let data: String = block
            .lines()
            .filter_map(|line| line.strip_prefix("data: "))
            .collect();
        // The branch of this name whose fixed text the data is, else the one with JSON data.
        let named = || {
            branches
                .iter()
                .filter(|branch| branch["properties"]["event"]["enum"][0] == name)
        };
        let fixed = named().find(|branch| {
            branch["properties"]["data"]["enum"]
                .as_array()
                .is_some_and(|texts| texts.iter().any(|text| *text == data))
        });
        if let Some(branch) = fixed {
            check_value(what, branch, &json!({"event": name, "data": data}));
            continue;
        }
        let branch = named()
            .find(|branch| branch["properties"]["data"].get("contentSchema").is_some())
            .unwrap_or_else(|| {
                panic!("{what}: the document declares no event {name:?} for {data:?}")
            });
        check_value(what, branch, &json!({"event": name, "data": data}));
        let payload: Value = serde_json::from_str(&data).expect("each event carries JSON");
        check_value(
            what,
            &branch["properties"]["data"]["contentSchema"],
            &payload,
        );
    }
}

/// Checks a response to `method path` against the document. `method` is `None` where the
/// caller only has the response: any operation on the path may then have declared it.
pub fn check_response(
    method: Option<&str>,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) {
    let Some(template) = template_of(path) else {
        // Not a documented route: the fallback's 404, or `/openapi.json` itself.
        return;
    };
    let item = &document()["paths"][template];
    let methods: Vec<String> = match method {
        Some(method) => vec![method.to_lowercase()],
        None => item
            .as_object()
            .map(|operations| operations.keys().cloned().collect())
            .unwrap_or_default(),
    };
    let declared: Vec<&Value> = methods
        .iter()
        .filter_map(|method| item.get(method))
        .filter_map(|operation| operation["responses"].get(status.to_string()))
        .collect();
    if declared.is_empty() {
        if status == 405 && method.is_some_and(|method| item.get(method.to_lowercase()).is_none()) {
            return;
        }
        panic!("{methods:?} {template} answered {status}, which it does not declare: {body}");
    }
    let media = content_type
        .map(|value| value.split(';').next().unwrap_or(value).trim().to_string())
        .unwrap_or_default();
    let what = format!("{methods:?} {template} {status} {media}");
    let schemas: Vec<&Value> = declared
        .iter()
        .filter_map(|response| response["content"].get(&media))
        .filter_map(|content| content.get("schema"))
        .collect();
    if body.is_empty() && media.is_empty() {
        assert!(
            declared
                .iter()
                .any(|response| response.get("content").is_none()),
            "{what}: an empty body where the document declares content"
        );
        return;
    }
    assert!(
        !schemas.is_empty(),
        "{what}: content type {media:?} is not declared for this status: {body}"
    );
    let values = match media.as_str() {
        "application/json" => vec![serde_json::from_str(body).expect("a JSON body")],
        "text/event-stream" => {
            if let Some(branches) = schemas.iter().find_map(|schema| event_branches(schema)) {
                check_named_events(&what, branches, body);
                return;
            }
            event_data(body)
        }
        _ => return,
    };
    for value in &values {
        // With the method unknown, one of the operations' schemas must match.
        if schemas.len() == 1 {
            check_value(&what, schemas[0], value);
        } else {
            assert!(
                schemas
                    .iter()
                    .any(|schema| validator(schema).is_valid(value)),
                "{what}: the body matches none of the declared schemas: {value}"
            );
        }
    }
}
