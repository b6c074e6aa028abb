//! A real server on a free loopback port over a temporary store and the real model.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bellhop_answer::{AnswerEngine, AnswerPolicy, CacheOptions, Generators};
use bellhop_embed::{Embedder, EmbedderOptions, ModelSource, QueueOptions};
use bellhop_retrieval::EmbeddingModels;
use bellhop_server::AnswerModels;
use bellhop_server::auth::hash_key;
use bellhop_server::config::{ApiKeyConfig, Role};
use bellhop_server::{AppState, ServerConfig};
use bellhop_store::{EmbeddedStore, Store};
use serde_json::{Value, json};

pub fn model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "run scripts/fetch-model.sh first"
    );
    dir
}

/// One model for every test of a binary.
pub fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    Arc::clone(EMBEDDER.get_or_init(|| {
        Arc::new(
            Embedder::load_with(&ModelSource::Dir(model_dir()), &EmbedderOptions::default())
                .expect("the model loads"),
        )
    }))
}

/// A copy of the model (its files linked) whose model card lists Matryoshka sizes of 256, 128
/// and 64 in sentence-transformers' words, for the tests of shortened vectors: MiniLM was not
/// trained for them, but which sizes a model allows comes from its card alone.
pub fn matryoshka_model() -> (tempfile::TempDir, Arc<Embedder>) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("minilm-matryoshka");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(model_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "README.md" {
            std::os::unix::fs::symlink(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        copy.join("README.md"),
        "---\ntags:\n- loss:MatryoshkaLoss\n---\n```json\n{\n    \"matryoshka_dims\": [\n        \
         384,\n        256,\n        128,\n        64\n    ]\n}\n```\n",
    )
    .unwrap();
    let embedder = Embedder::load_with(&ModelSource::Dir(copy), &EmbedderOptions::default())
        .expect("the model loads");
    (dir, Arc::new(embedder))
}

/// A running server; shut down (and awaited) on `stop`, dropped with its directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with_config(ServerConfig::default()).await
    }

    pub async fn with_config(config: ServerConfig) -> Self {
        Self::with_models(config, AnswerModels::default()).await
    }

    /// A server embedding with `embedder` instead of the shared model.
    pub async fn with_embedder(mut config: ServerConfig, embedder: Arc<Embedder>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_path_buf();
        config.addr = "127.0.0.1:0".parse().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let state = Arc::new(AppState::new(
            config,
            store,
            embedder,
            AnswerModels::default(),
        ));
        Self::serving_state(state, dir, axum::Router::new()).await
    }

    /// A server whose default model is the shared one and which may also load `more`
    /// models, each on first use.
    pub async fn with_more_models(mut config: ServerConfig, more: Vec<PathBuf>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_path_buf();
        config.addr = "127.0.0.1:0".parse().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let models = EmbeddingModels::new(
            embedder(),
            ModelSource::Dir(model_dir()),
            more.into_iter().map(ModelSource::Dir).collect(),
            EmbedderOptions::default(),
            AppState::queue_options(&config),
            config.limits.max_resident_models,
        )
        .unwrap();
        let state = Arc::new(AppState::with_embedding_models(
            config,
            store,
            Arc::new(models),
            AnswerModels::default(),
        ));
        Self::serving_state(state, dir, axum::Router::new()).await
    }

    /// A server answering with `models` (loaded once and shared: a chat model takes seconds
    /// and a gigabyte to load).
    pub async fn with_models(mut config: ServerConfig, models: AnswerModels) -> Self {
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_path_buf();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        Self::serving(config, store, models, dir, axum::Router::new()).await
    }

    /// A server with `extra` routes beside the API's, behind the same middleware.
    pub async fn with_routes(mut config: ServerConfig, extra: axum::Router<Arc<AppState>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_path_buf();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        Self::serving(config, store, AnswerModels::default(), dir, extra).await
    }

    /// A server over `store` (a replica of a shared database).
    pub async fn on_store(config: ServerConfig, store: Arc<dyn Store>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::serving(
            config,
            store,
            AnswerModels::default(),
            dir,
            axum::Router::new(),
        )
        .await
    }

    /// A server whose answer engine chooses from `generators`, generators of the embedding
    /// program's own rather than the configured models.
    pub async fn with_generators(mut config: ServerConfig, generators: Generators) -> Self {
        let dir = tempfile::tempdir().unwrap();
        config.data_dir = dir.path().to_path_buf();
        config.addr = "127.0.0.1:0".parse().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let mut state = AppState::new(
            config,
            Arc::clone(&store),
            embedder(),
            AnswerModels::default(),
        );
        let models = Arc::new(EmbeddingModels::single(embedder(), QueueOptions::default()));
        state.engine = Arc::new(
            AnswerEngine::new(store, models, CacheOptions::disabled())
                .with_generators(generators, AnswerPolicy::default()),
        );
        Self::serving_state(Arc::new(state), dir, axum::Router::new()).await
    }

    async fn serving(
        mut config: ServerConfig,
        store: Arc<dyn Store>,
        models: AnswerModels,
        dir: tempfile::TempDir,
        extra: axum::Router<Arc<AppState>>,
    ) -> Self {
        config.addr = "127.0.0.1:0".parse().unwrap();
        let state = Arc::new(AppState::new(config, store, embedder(), models));
        Self::serving_state(state, dir, extra).await
    }

    async fn serving_state(
        state: Arc<AppState>,
        dir: tempfile::TempDir,
        extra: axum::Router<Arc<AppState>>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(bellhop_server::serve_with(
            listener,
            Arc::clone(&state),
            extra,
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            client: reqwest::Client::new(),
            state,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Begins shutdown; returns the server task to await.
    pub fn begin_stop(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let _ = self.stop.take().expect("not stopped yet").send(());
        self.task.take().expect("running")
    }

    /// Sends `request`, checks the response against the OpenAPI document, and returns its
    /// status and body (JSON, or the text).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let (status, text) = self.send_text(request).await;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// Like [`Self::send`], with the body as text (event streams, `/metrics`).
    pub async fn send_text(&self, request: reqwest::RequestBuilder) -> (u16, String) {
        let request = request.build().unwrap();
        let method = request.method().to_string();
        let path = request.url().path().to_string();
        let response = self.client.execute(request).await.unwrap();
        let (status, content_type, text) = parts(response).await;
        crate::schema::check_response(Some(&method), &path, status, content_type.as_deref(), &text);
        (status, text)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    /// The body of `GET path` as text (`/metrics`).
    pub async fn get_text(&self, path: &str) -> String {
        self.send_text(self.client.get(self.url(path))).await.1
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.send(self.client.delete(self.url(path))).await.0
    }

    /// Creates `name` and adds `documents` (id, title, text).
    pub async fn collection_with(&self, name: &str, documents: &[(&str, &str, &str)]) {
        let (status, body) = self.post("/v1/collections", json!({"name": name})).await;
        assert_eq!(status, 201, "{body}");
        let documents: Vec<Value> = documents
            .iter()
            .map(|(id, title, text)| json!({"id": id, "title": title, "text": text}))
            .collect();
        let (status, body) = self
            .post(
                &format!("/v1/collections/{name}/documents"),
                json!({ "documents": documents }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

async fn parts(response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    (status, content_type, response.text().await.unwrap())
}

/// The status and body (JSON, or the text) of a response, checked against the OpenAPI
/// document for any operation on its path.
pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let path = response.url().path().to_string();
    let (status, content_type, text) = parts(response).await;
    crate::schema::check_response(None, &path, status, content_type.as_deref(), &text);
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The text of a response (an event stream), checked like [`read`].
pub async fn read_text(response: reqwest::Response) -> (u16, String) {
    let path = response.url().path().to_string();
    let (status, content_type, text) = parts(response).await;
    crate::schema::check_response(None, &path, status, content_type.as_deref(), &text);
    (status, text)
}

/// Asserts the error shape and code.
/// A key of `role` scoped to the `hotel` collection (admins see every collection), allowed
/// no page origin.
pub fn hotel_key(name: &str, secret: &str, role: Role) -> ApiKeyConfig {
    ApiKeyConfig {
        name: name.into(),
        sha256: hash_key(secret),
        role,
        collections: if role == Role::Admin {
            Vec::new()
        } else {
            vec!["hotel".into()]
        },
        allowed_origins: Vec::new(),
        rate_limit: None,
    }
}

pub fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

pub const HOTEL: &[(&str, &str, &str)] = &[
    (
        "pool",
        "Pool",
        "The indoor pool is heated to 28 °C all year. It opens at 07:00 and closes at 22:00.",
    ),
    (
        "checkin",
        "Check-in",
        "Check-in starts at 15:00. Check-out is until 11:00. Late check-out costs EUR 30.",
    ),
    (
        "pets",
        "Pets",
        "Dogs up to 15 kg are welcome for EUR 25 per night. Cats are not allowed.",
    ),
    (
        "wifi",
        "Wi-Fi",
        "Wi-Fi is free in all rooms. The network is HarbourView-Guest and needs no password.",
    ),
];

/// The `(event, data)` pairs of a Server-Sent Events body; comment blocks (keep-alives) and
/// OpenAI's `[DONE]` are skipped.
pub fn sse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = value.to_string();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                }
            }
            if data.is_empty() || data == "[DONE]" {
                return None;
            }
            Some((
                name,
                serde_json::from_str(&data).expect("each event carries JSON"),
            ))
        })
        .collect()
}
