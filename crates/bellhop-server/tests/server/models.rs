//! One server, collections of different embedding models: each searched, filled and
//! embedded for with its own model, loaded on first use, at most `max_resident_models` at
//! once.

use std::path::PathBuf;

use bellhop_embed::{Embedder, EmbedderOptions, ModelSource, QueueOptions};
use bellhop_retrieval::EmbeddingModels;
use bellhop_server::ServerConfig;
use bellhop_store::CollectionSpec;
use serde_json::{Value, json};

use crate::common::{TestServer, assert_error, embedder, model_dir};

fn mpnet_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-mpnet-base-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "run scripts/fetch-model-mpnet.sh first"
    );
    dir
}

const DOCUMENTS: &[(&str, &str)] = &[
    (
        "pool",
        "The indoor pool is heated to 28 degrees and open from 07:00 to 21:00.",
    ),
    (
        "breakfast",
        "Breakfast is served in the restaurant from 06:30 to 10:30 on weekdays.",
    ),
    (
        "parking",
        "The garage under the hotel has 40 spaces at EUR 22 per night.",
    ),
];

async fn fill(server: &TestServer, collection: &str) {
    let documents: Vec<Value> = DOCUMENTS
        .iter()
        .map(|(id, text)| json!({"id": id, "text": text}))
        .collect();
    let (status, body) = server
        .post(
            &format!("/v1/collections/{collection}/documents"),
            json!({ "documents": documents }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn top_hit(server: &TestServer, collection: &str, query: &str) -> String {
    let (status, body) = server
        .post(
            &format!("/v1/collections/{collection}/search"),
            json!({"query": query, "k": 1, "mode": "dense"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["hits"][0]["document_id"].as_str().unwrap().to_string()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test(flavor = "multi_thread")]
async fn collections_of_two_models_are_each_served_with_their_own() {
    let mut config = ServerConfig::default();
    // One model in memory at a time: every switch unloads the other and loads it again.
    config.limits.max_resident_models = 1;
    let server = TestServer::with_more_models(config, vec![mpnet_dir()]).await;
    let minilm = embedder().model_id().to_string();

    let (status, body) = server.get("/v1/models").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&minilm.as_str()), "{ids:?}");
    assert!(ids.contains(&"all-mpnet-base-v2"), "{ids:?}");

    let (status, body) = server
        .post("/v1/collections", json!({"name": "english"}))
        .await;
    assert_eq!((status, body["dim"].as_u64()), (201, Some(384)), "{body}");
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "second", "model": "all-mpnet-base-v2"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["model"].as_str(), body["dim"].as_u64()),
        (Some("all-mpnet-base-v2"), Some(768)),
        "{body}"
    );
    fill(&server, "second").await;
    fill(&server, "english").await;

    for _ in 0..2 {
        assert_eq!(
            top_hit(&server, "second", "Is the pool warm?").await,
            "pool"
        );
        assert_eq!(
            top_hit(&server, "english", "where can I leave my car").await,
            "parking"
        );
    }
    let listed = server.state.engine.models().list();
    assert_eq!(listed.iter().filter(|model| model.resident).count(), 1);

    let (status, body) = server
        .post(
            "/v1/collections/second/ask",
            json!({"question": "When is breakfast served?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["answer"].as_str().unwrap().contains("06:30"), "{body}");

    let text = "Is the pool heated?";
    let (status, body) = server
        .post(
            "/v1/embeddings",
            json!({"input": text, "model": "all-mpnet-base-v2"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "all-mpnet-base-v2");
    let served: Vec<f32> = body["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let mpnet =
        Embedder::load_with(&ModelSource::Dir(mpnet_dir()), &EmbedderOptions::default()).unwrap();
    let expected = mpnet.embed(&[text]).unwrap();
    assert_eq!(served.len(), 768);
    assert!(cosine(&served, expected.row(0)) > 0.9999);

    let (status, body) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.as_str().unwrap().contains("embedding_queue_depth"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collection_of_a_model_not_served_is_refused_by_name() {
    let server = TestServer::start().await;
    server
        .state
        .engine
        .store()
        .create_collection(CollectionSpec::new("elsewhere", "e5-small-v2", 384))
        .await
        .unwrap();
    let (status, body) = server
        .post(
            "/v1/collections/elsewhere/search",
            json!({"query": "Is the pool heated?"}),
        )
        .await;
    assert_error(status, &body, 409, "model_not_served");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("e5-small-v2") && message.contains(embedder().model_id()),
        "{message}"
    );
    let (status, body) = server
        .post(
            "/v1/collections/elsewhere/documents",
            json!({"documents": [{"id": "a", "text": "The pool is heated."}]}),
        )
        .await;
    assert_error(status, &body, 409, "model_not_served");
    // The search and the refused write lost nothing: the collection is still there, empty.
    let (status, body) = server.get("/v1/collections/elsewhere").await;
    assert_eq!(
        (status, body["documents"].as_u64()),
        (200, Some(0)),
        "{body}"
    );
}

#[test]
fn two_models_of_one_name_are_refused() {
    let refused = EmbeddingModels::new(
        embedder(),
        ModelSource::Dir(model_dir()),
        vec![ModelSource::Dir(model_dir())],
        EmbedderOptions::default(),
        QueueOptions::default(),
        2,
    );
    let message = refused.map(|_| ()).unwrap_err();
    assert!(message.contains("all-MiniLM-L6-v2"), "{message}");
}
