//! Shorter vectors (Matryoshka): a collection created with `dimensions` stores and searches
//! vectors cut to that size, `/v1/embeddings` shortens on request, and a size the model's
//! card does not list is refused.

use crate::common::{HOTEL, TestServer, assert_error, matryoshka_model};
use bellhop_server::ServerConfig;
use serde_json::{Value, json};

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collection_of_shortened_vectors_is_searched_and_answered_from() {
    let (_model, embedder) = matryoshka_model();
    let server = TestServer::with_embedder(ServerConfig::default(), embedder.clone()).await;

    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "hotel", "dimensions": 128}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["dim"], 128);
    let documents: Vec<Value> = HOTEL
        .iter()
        .map(|(id, title, text)| json!({"id": id, "title": title, "text": text}))
        .collect();
    let (status, body) = server
        .post(
            "/v1/collections/hotel/documents",
            json!({ "documents": documents }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    for mode in ["dense", "hybrid"] {
        let (status, body) = server
            .post(
                "/v1/collections/hotel/search",
                json!({"query": "is the swimming pool heated", "k": 3, "mode": mode}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["hits"][0]["document_id"], "pool", "{mode}: {body}");
    }
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "what temperature is the pool?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["abstained"], false, "{body}");
    assert!(body["answer"].as_str().unwrap().contains("28"), "{body}");

    // A size the card does not list, and a collection of the full size beside the short one.
    let (status, body) = server
        .post("/v1/collections", json!({"name": "odd", "dimensions": 100}))
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("256, 128, 64"), "{message}");
    let (status, body) = server
        .post("/v1/collections", json!({"name": "full"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["dim"], 384);
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_are_shortened_to_a_listed_size_and_refused_at_any_other() {
    let (_model, embedder) = matryoshka_model();
    let server = TestServer::with_embedder(ServerConfig::default(), embedder.clone()).await;
    let model = embedder.model_id().to_string();
    let text = "Is the pool heated?";
    let full = embedder.embed(&[text]).unwrap();
    let full = full.row(0);

    for (dimensions, encoding) in [(256, "float"), (64, "float"), (64, "base64")] {
        let (status, body) = server
            .post(
                "/v1/embeddings",
                json!({"input": [text], "model": model, "dimensions": dimensions,
                       "encoding_format": encoding}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let got: Vec<f32> = if encoding == "float" {
            floats(&body["data"][0]["embedding"])
        } else {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(body["data"][0]["embedding"].as_str().unwrap())
                .unwrap()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        assert_eq!(got.len(), dimensions);
        let norm: f32 = full[..dimensions].iter().map(|x| x * x).sum::<f32>().sqrt();
        for (got, whole) in got.iter().zip(full) {
            assert!(
                (got - whole / norm).abs() < 1e-6,
                "{got} vs {}",
                whole / norm
            );
        }
    }
    let (status, body) = server
        .post(
            "/v1/embeddings",
            json!({"input": text, "model": model, "dimensions": 384}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 384);
    for dimensions in [100, 512, 0] {
        let (status, body) = server
            .post(
                "/v1/embeddings",
                json!({"input": text, "model": model, "dimensions": dimensions}),
            )
            .await;
        assert_error(status, &body, 400, "invalid_request");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_whose_card_names_no_matryoshka_size_refuses_shorter_collections() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "hotel", "dimensions": 128}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("not trained to be shortened"), "{message}");
    let (status, _) = server.get("/v1/collections/hotel").await;
    assert_eq!(status, 404, "nothing was created");
}
