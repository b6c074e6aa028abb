//! `docs/openapi.json` is the document the code generates; regenerate it with
//! `BELLHOP_UPDATE_OPENAPI=1 cargo test -p bellhop-server --test server openapi`.

use std::path::PathBuf;

#[test]
fn committed_openapi_document_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = bellhop_server::openapi_json() + "\n";
    if std::env::var_os("BELLHOP_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date: run BELLHOP_UPDATE_OPENAPI=1 cargo test -p bellhop-server --test server openapi"
    );
    let document: serde_json::Value = serde_json::from_str(&generated).unwrap();
    for path in [
        "/v1/collections/{name}/search",
        "/v1/collections/{name}/ask",
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/collections/{name}/files",
    ] {
        assert!(
            document["paths"].get(path).is_some(),
            "{path} is documented"
        );
    }
}

/// Every text field the document says must not be blank states the rule as a pattern; it
/// must accept exactly the characters that the handlers treat as something to read, or
/// clients following the document get valid text refused.
#[test]
fn not_blank_pattern_agrees_with_the_handlers() {
    let document: serde_json::Value =
        serde_json::from_str(&bellhop_server::openapi_json()).expect("the document is JSON");
    let mut patterns = Vec::new();
    collect_patterns(&document, &mut patterns);
    assert!(
        patterns.contains(&bellhop_server::wire::NOT_BLANK_PATTERN.to_string()),
        "the document never states the not-blank pattern"
    );
    for pattern in patterns.iter().filter(|pattern| pattern.starts_with("[^")) {
        assert_eq!(pattern, bellhop_server::wire::NOT_BLANK_PATTERN);
    }
    let validator = jsonschema::validator_for(
        &serde_json::json!({"type": "string", "pattern": bellhop_server::wire::NOT_BLANK_PATTERN}),
    )
    .expect("the pattern compiles");
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let text = c.to_string();
        assert_eq!(
            validator.is_valid(&serde_json::Value::String(text.clone())),
            !bellhop_store::is_blank(&text),
            "U+{:04X}",
            c as u32
        );
    }
}

fn collect_patterns(value: &serde_json::Value, patterns: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("pattern", serde_json::Value::String(pattern)) => {
                        patterns.push(pattern.clone())
                    }
                    _ => collect_patterns(value, patterns),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_patterns(item, patterns);
            }
        }
        _ => {}
    }
}

/// Links and generated clients name operations by id; the document must not reuse one.
#[test]
fn operation_ids_are_unique() {
    let document: serde_json::Value =
        serde_json::from_str(&bellhop_server::openapi_json()).expect("the document is JSON");
    let mut seen = std::collections::HashSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                seen.insert(id.to_string()),
                "operationId {id} is used twice"
            );
        }
    }
}
