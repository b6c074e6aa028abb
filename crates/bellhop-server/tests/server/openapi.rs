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
