//! The OpenAI-compatible endpoints, checked against the engine's own vectors.

use crate::common::{HOTEL, TestServer, assert_error};
use base64::Engine as _;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_in_float_and_base64_match_the_engine() {
    let server = TestServer::start().await;
    let model = server.state.engine.models().default_id().to_string();
    let texts = ["Is the pool heated?", "room service menu without nuts"];
    let expected = crate::common::embedder().embed(&texts).unwrap();
    let (status, body) = server
        .post("/v1/embeddings", json!({"input": texts, "model": model}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 5);
    for (index, row) in expected.rows().enumerate() {
        let got: Vec<f32> = body["data"][index]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(body["data"][index]["index"], index);
        assert_eq!(got.len(), row.len());
        assert!(got.iter().zip(row).all(|(a, b)| (a - b).abs() < 1e-6));
    }
    let (status, body) = server
        .post("/v1/embeddings", json!({"input": "x", "model": format!("sentence-transformers/{}", model.rsplit('/').next().unwrap())}))
        .await;
    assert_eq!(
        status, 200,
        "the owner/name spelling names a local copy too: {body}"
    );
    let short = model.rsplit('/').next().unwrap();
    let (status, body) = server
        .post(
            "/v1/embeddings",
            json!({"input": texts[0], "model": short, "encoding_format": "base64"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let first = expected.rows().next().unwrap();
    assert!(decoded.iter().zip(first).all(|(a, b)| (a - b).abs() < 1e-6));

    for (body, status, code) in [
        (
            json!({"input": "x", "model": "text-embedding-3-small"}),
            404,
            "model_not_found",
        ),
        (
            json!({"input": [1, 2, 3], "model": model}),
            400,
            "invalid_request",
        ),
        (json!({"input": [], "model": model}), 400, "invalid_request"),
        (
            json!({"input": [[1, 2], [3]], "model": model}),
            400,
            "invalid_request",
        ),
        (
            json!({"input": "x", "model": model, "encoding_format": "hex"}),
            422,
            "invalid_request",
        ),
        (
            json!({"input": "x", "model": model, "dimensions": 64}),
            400,
            "invalid_request",
        ),
        (json!({"input": "x"}), 422, "invalid_request"),
    ] {
        let (got, response) = server.post("/v1/embeddings", body.clone()).await;
        assert_error(got, &response, status, code);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_completions_answer_from_a_collection_and_stream_chunks() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let (status, models) = server.get("/v1/models").await;
    assert_eq!(status, 200);
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "hotel")
    );
    let question = json!({"model": "hotel", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Can I bring my dog?"},
    ]});
    let (status, body) = server.post("/v1/chat/completions", question.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.contains("Dogs up to 15 kg") && content.contains("[1]"),
        "{content}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["citations"][0]["document_id"], "pets");

    let mut streaming = question.clone();
    streaming["stream"] = json!(true);
    streaming["model"] = json!("collection:hotel");
    let (_, text) = server
        .send_text(
            server
                .client
                .post(server.url("/v1/chat/completions"))
                .json(&streaming),
        )
        .await;
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(*data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|chunk| serde_json::from_str(chunk).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(streamed, content);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );

    let (status, body) = server
        .post(
            "/v1/chat/completions",
            json!({"model": "nowhere", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_error(status, &body, 404, "model_not_found");
    let (status, body) = server
        .post(
            "/v1/chat/completions",
            json!({"model": "hotel", "messages": [{"role": "system", "content": "hi"}]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
}
