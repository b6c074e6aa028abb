//! Server settings: defaults, then a TOML file, then `BELLHOP_*` environment variables,
//! then command-line flags (applied by the caller with [`ServerConfig::load`]'s overrides).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything `bellhop serve` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// The embedded store's directory.
    pub data_dir: PathBuf,
    /// A PostgreSQL database to use instead of the embedded store
    /// (`postgres://user:password@host:port/database`).
    pub database_url: Option<String>,
    /// The PostgreSQL connection pool and index settings.
    pub database: DatabaseConfig,
    /// The embedding model: a directory or a Hugging Face repo id (the CLI's default when
    /// absent). New collections and embeddings that name no model use it.
    pub model: Option<String>,
    /// More embedding models (directories or repo ids) that collections may hold vectors of,
    /// each loaded on first use (see `limits.max_resident_models`).
    pub more_models: Vec<String>,
    /// What every embedding model's dense weights are kept in (`f32` or `bf16`).
    pub precision: bellhop_embed::Precision,
    /// Serve without API keys on a non-loopback address.
    pub insecure_no_auth: bool,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// Request limits.
    pub limits: Limits,
    /// Cache sizes.
    pub cache: CacheConfig,
    /// Answer generation: a local GGUF model, OpenAI-compatible upstreams, the deadline.
    pub llm: LlmConfig,
    /// API keys; none means no authentication (allowed on loopback only).
    pub keys: Vec<ApiKeyConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("bellhop-data"),
            database_url: None,
            database: DatabaseConfig::default(),
            model: None,
            more_models: Vec::new(),
            precision: bellhop_embed::Precision::F32,
            insecure_no_auth: false,
            log_format: LogFormat::Text,
            limits: Limits::default(),
            cache: CacheConfig::default(),
            llm: LlmConfig::default(),
            keys: Vec::new(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Bounds on what one request may ask and on how much work may wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest JSON body, in bytes.
    pub max_body_bytes: usize,
    /// Largest file upload, in bytes.
    pub max_upload_bytes: usize,
    /// Requests handled at once; more are refused with 503 and `Retry-After`.
    pub max_in_flight: usize,
    /// Texts waiting for each embedding model; more are refused with 503.
    pub embedding_queue: usize,
    /// Embedding models in memory at once; past it the least recently used is unloaded.
    pub max_resident_models: usize,
    /// Every request's deadline, in milliseconds.
    pub request_timeout_ms: u64,
    /// How long a client may take to send a request's headers, in milliseconds; the
    /// connection is closed past it. An idle keep-alive connection is waiting for headers,
    /// so it is closed after this long too.
    pub header_timeout_ms: u64,
    /// Connections open at once; one more is answered 503 with `Retry-After` and closed, so
    /// that idle or slow clients cannot use up the process's file descriptors.
    pub max_connections: usize,
    /// Longest query or question, in characters.
    pub max_query_chars: usize,
    /// Longest text to embed or document to add (as JSON or in an uploaded file), in characters.
    pub max_text_chars: usize,
    /// Most inputs in one embeddings request, documents in one add, or files in one upload.
    pub max_batch: usize,
    /// Most hits one search may ask for.
    pub max_k: usize,
    /// Deepest nesting of a metadata filter.
    pub max_filter_depth: usize,
    /// How long shutdown waits for requests in flight, in milliseconds.
    pub shutdown_grace_ms: u64,
}

impl Limits {
    /// The longest deadline an answer may have: the request timeout less the time to send
    /// the fallback answer (a tenth of it, at least 250 ms and at most 2 s).
    pub fn max_answer_deadline(&self) -> std::time::Duration {
        let timeout = self.request_timeout_ms;
        let margin = (timeout / 10).clamp(250, 2_000);
        std::time::Duration::from_millis(timeout.saturating_sub(margin).max(1))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 << 20,
            max_upload_bytes: 32 << 20,
            max_in_flight: 1024,
            embedding_queue: 4096,
            max_resident_models: 2,
            request_timeout_ms: 30_000,
            header_timeout_ms: 10_000,
            max_connections: 4096,
            max_query_chars: 2_000,
            max_text_chars: 200_000,
            max_batch: 256,
            max_k: 100,
            max_filter_depth: 4,
            shutdown_grace_ms: 10_000,
        }
    }
}

/// How answers are generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// A GGUF chat model to run in-process (enables the `local` generator).
    pub gguf: Option<PathBuf>,
    /// A `tokenizer.json` for the GGUF model, when its metadata has no usable tokenizer.
    pub tokenizer: Option<PathBuf>,
    /// Requests that may wait for the local model.
    pub queue: usize,
    /// Most tokens of prompt plus answer for the local model.
    pub max_context_tokens: usize,
    /// OpenAI-compatible upstreams (enable the `openai` generator).
    pub upstreams: Vec<UpstreamSettings>,
    /// Connect timeout for upstreams.
    pub connect_timeout_ms: u64,
    /// How long an upstream may take to its first token before another is tried.
    pub first_token_timeout_ms: u64,
    /// How long an upstream answer may take in all.
    pub total_timeout_ms: u64,
    /// How long a failed upstream is left out before it is tried again.
    pub eject_ms: u64,
    /// The deadline of an answer when neither the request nor the collection sets one.
    pub answer_deadline_ms: u64,
    /// The share of the deadline within which a model must produce its first token.
    pub first_token_share: f64,
    /// Most prompt tokens the retrieved sources may take.
    pub source_token_budget: usize,
    /// Most tokens a model may write when the request does not say.
    pub max_tokens: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            gguf: None,
            tokenizer: None,
            queue: 16,
            max_context_tokens: 4096,
            upstreams: Vec::new(),
            connect_timeout_ms: 2_000,
            first_token_timeout_ms: 10_000,
            total_timeout_ms: 60_000,
            eject_ms: 10_000,
            answer_deadline_ms: 15_000,
            first_token_share: 0.6,
            source_token_budget: 1_024,
            max_tokens: 256,
        }
    }
}

/// One OpenAI-compatible upstream.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Base URL up to and including `/v1`.
    pub url: String,
    /// The model to ask for.
    pub model: String,
    /// Sent as a bearer token.
    #[serde(default)]
    pub api_key: Option<String>,
}

impl std::fmt::Debug for UpstreamSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSettings")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The PostgreSQL backend's pool and HNSW settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Most connections this replica opens; all replicas together must stay under the
    /// server's `max_connections`.
    pub max_connections: u32,
    /// Milliseconds a request waits for a connection before failing with 503.
    pub acquire_timeout_ms: u64,
    /// Milliseconds to keep retrying at start while the database is unreachable.
    pub connect_wait_ms: u64,
    /// HNSW graph degree of new collections.
    pub hnsw_m: u32,
    /// HNSW build candidate list of new collections.
    pub hnsw_ef_construction: u32,
    /// HNSW search candidate list (`hnsw.ef_search`).
    pub hnsw_ef_search: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let defaults = bellhop_store::PostgresOptions::new("");
        Self {
            max_connections: defaults.max_connections,
            acquire_timeout_ms: defaults.acquire_timeout.as_millis() as u64,
            connect_wait_ms: 30_000,
            hnsw_m: defaults.hnsw_m,
            hnsw_ef_construction: defaults.hnsw_ef_construction,
            hnsw_ef_search: defaults.hnsw_ef_search,
        }
    }
}

impl DatabaseConfig {
    /// The store options for `url`.
    pub fn options(&self, url: &str) -> bellhop_store::PostgresOptions {
        bellhop_store::PostgresOptions {
            url: url.to_string(),
            max_connections: self.max_connections,
            acquire_timeout: std::time::Duration::from_millis(self.acquire_timeout_ms),
            hnsw_m: self.hnsw_m,
            hnsw_ef_construction: self.hnsw_ef_construction,
            hnsw_ef_search: self.hnsw_ef_search,
        }
    }
}

/// Entries per cache; `enabled = false` switches them all off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether caches are used at all.
    pub enabled: bool,
    /// Query embeddings kept.
    pub embeddings: usize,
    /// Search results kept.
    pub searches: usize,
    /// Answers kept.
    pub answers: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            embeddings: 10_000,
            searches: 10_000,
            answers: 10_000,
        }
    }
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Search, ask, chat and embeddings on its collections.
    Query,
    /// Ask, chat and send feedback on its collections, from its allowed origins, within its
    /// rate limit: a key that a hotel's web page shows to every guest.
    Widget,
}

/// One API key, stored as the hex SHA-256 of the key (`bellhop hash-key` prints it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A label for logs.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub sha256: String,
    /// What the key may do.
    pub role: Role,
    /// The collections a `query` or `widget` key may use.
    #[serde(default)]
    pub collections: Vec<String>,
    /// The web origins (`https://hotel.example`) whose pages may use a `widget` key.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// How often one client address may use a `widget` key.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

/// A token bucket per client address: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Requests a minute, sustained.
    pub per_minute: u32,
    /// Requests at once.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_minute: 30,
            burst: 10,
        }
    }
}

impl ApiKeyConfig {
    /// The rate limit of a `widget` key (the default when unset); none for other roles.
    pub fn widget_rate_limit(&self) -> Option<RateLimit> {
        (self.role == Role::Widget).then(|| self.rate_limit.unwrap_or_default())
    }
}

/// Whether `origin` is a web origin as browsers send it: a scheme, a host and an optional
/// port, with no path.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Top-level keys that environment variables may set (`BELLHOP_LIMITS__MAX_K=50` sets
/// `limits.max_k`); other `BELLHOP_*` variables belong to other commands.
const ENV_KEYS: &[&str] = &[
    "addr",
    "data_dir",
    "database_url",
    "database",
    "model",
    "insecure_no_auth",
    "log_format",
    "limits",
    "cache",
    "llm",
];

impl ServerConfig {
    /// Defaults, then `file`, then the environment, then `overrides` (flags; only the
    /// fields they set).
    pub fn load(file: Option<&Path>, overrides: &serde_json::Value) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!("{}: no such file", file.display())));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed("BELLHOP_").split("__").filter(|key| {
                // The key still has the variable's case here; figment lowercases it later.
                let top = key.as_str().split('.').next().unwrap_or_default();
                ENV_KEYS.iter().any(|known| known.eq_ignore_ascii_case(top))
            }))
            .merge(Serialized::defaults(overrides));
        let config: ServerConfig = figment
            .extract()
            .map_err(|err| ConfigError(err.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks settings that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for key in &self.keys {
            let valid = key.sha256.len() == 64 && key.sha256.chars().all(|c| c.is_ascii_hexdigit());
            if !valid {
                return Err(ConfigError(format!(
                    "key {:?}: sha256 must be 64 hex digits (bellhop hash-key prints it)",
                    key.name
                )));
            }
            if matches!(key.role, Role::Query | Role::Widget) && key.collections.is_empty() {
                return Err(ConfigError(format!(
                    "key {:?}: a {} key needs the collections it may use",
                    key.name,
                    if key.role == Role::Widget {
                        "widget"
                    } else {
                        "query"
                    }
                )));
            }
            if key.role != Role::Widget
                && (!key.allowed_origins.is_empty() || key.rate_limit.is_some())
            {
                return Err(ConfigError(format!(
                    "key {:?}: only widget keys take allowed_origins and rate_limit",
                    key.name
                )));
            }
            if let Some(origin) = key.allowed_origins.iter().find(|origin| !is_origin(origin)) {
                return Err(ConfigError(format!(
                    "key {:?}: allowed origin {origin:?} must be scheme://host[:port], without a path",
                    key.name
                )));
            }
            if let Some(limit) = key.rate_limit
                && (limit.per_minute == 0 || limit.burst == 0)
            {
                return Err(ConfigError(format!(
                    "key {:?}: rate_limit.per_minute and rate_limit.burst must be above 0",
                    key.name
                )));
            }
        }
        if self.keys.is_empty() && !self.addr.ip().is_loopback() && !self.insecure_no_auth {
            return Err(ConfigError(format!(
                "refusing to serve {} without API keys: configure keys, or pass --insecure-no-auth",
                self.addr
            )));
        }
        let limits = &self.limits;
        for (name, value) in [
            ("max_body_bytes", limits.max_body_bytes),
            ("max_upload_bytes", limits.max_upload_bytes),
            ("max_in_flight", limits.max_in_flight),
            ("max_connections", limits.max_connections),
            ("embedding_queue", limits.embedding_queue),
            ("max_resident_models", limits.max_resident_models),
            ("max_query_chars", limits.max_query_chars),
            ("max_batch", limits.max_batch),
            ("max_k", limits.max_k),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("limits.{name} must be above 0")));
            }
        }
        let llm = &self.llm;
        if llm.answer_deadline_ms == 0 || llm.queue == 0 || llm.max_tokens == 0 {
            return Err(ConfigError(
                "llm.answer_deadline_ms, llm.queue and llm.max_tokens must be above 0".into(),
            ));
        }
        if !(llm.first_token_share > 0.0 && llm.first_token_share <= 1.0) {
            return Err(ConfigError(
                "llm.first_token_share must be above 0 and at most 1".into(),
            ));
        }
        if let Some(gguf) = &llm.gguf
            && !gguf.is_file()
        {
            return Err(ConfigError(format!(
                "llm.gguf: {} is not a file",
                gguf.display()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's Jail closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn environment_variables_set_top_level_and_nested_keys() {
        // The jail restores the environment and keeps tests that read it apart.
        figment::Jail::expect_with(|jail| {
            jail.set_env("BELLHOP_ADDR", "127.0.0.1:18999");
            jail.set_env("BELLHOP_LIMITS__MAX_K", "42");
            jail.set_env("BELLHOP_DATABASE_URL", "postgres://db/bellhop");
            jail.set_env("BELLHOP_DATABASE__MAX_CONNECTIONS", "4");
            // Another command's variable is not a server setting.
            jail.set_env("BELLHOP_UPDATE_OPENAPI", "1");
            let config =
                ServerConfig::load(None, &serde_json::json!({})).map_err(|err| err.to_string())?;
            assert_eq!(config.addr.port(), 18999);
            assert_eq!(config.limits.max_k, 42);
            assert_eq!(
                config.database_url.as_deref(),
                Some("postgres://db/bellhop")
            );
            assert_eq!(config.database.max_connections, 4);
            assert_eq!(
                config.database.acquire_timeout_ms,
                DatabaseConfig::default().acquire_timeout_ms
            );
            // Flags still win over the environment.
            let flagged = ServerConfig::load(None, &serde_json::json!({"addr": "127.0.0.1:9300"}))
                .map_err(|err| err.to_string())?;
            assert_eq!(flagged.addr.port(), 9300);
            jail.set_env("BELLHOP_LIMITS__MAX_K", "many");
            let err = ServerConfig::load(None, &serde_json::json!({})).unwrap_err();
            assert!(err.to_string().to_lowercase().contains("max_k"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn file_then_overrides_and_validation() {
        figment::Jail::expect_with(|_| {
            file_then_overrides_and_validation_in_a_clean_environment();
            Ok(())
        });
    }

    fn file_then_overrides_and_validation_in_a_clean_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bellhop.toml");
        std::fs::write(
            &file,
            "addr = \"127.0.0.1:9000\"\n[limits]\nmax_k = 20\n[[keys]]\nname = \"desk\"\nsha256 = \"00000000000000000000000000000000000000000000000000000000000000ff\"\nrole = \"query\"\ncollections = [\"hotel\"]\n",
        )
        .unwrap();
        let config =
            ServerConfig::load(Some(&file), &serde_json::json!({"addr": "127.0.0.1:9100"}))
                .unwrap();
        assert_eq!(config.addr.port(), 9100);
        assert_eq!(config.limits.max_k, 20);
        assert_eq!(config.limits.max_batch, Limits::default().max_batch);
        assert_eq!(config.keys[0].role, Role::Query);

        std::fs::write(&file, "adress = \"127.0.0.1:9000\"\n").unwrap();
        let err = ServerConfig::load(Some(&file), &serde_json::json!({})).unwrap_err();
        assert!(err.to_string().contains("adress"), "{err}");

        let open = ServerConfig::load(None, &serde_json::json!({"addr": "0.0.0.0:8080"}));
        assert!(open.unwrap_err().to_string().contains("--insecure-no-auth"));
        let insecure = ServerConfig::load(
            None,
            &serde_json::json!({"addr": "0.0.0.0:8080", "insecure_no_auth": true}),
        );
        assert!(insecure.is_ok());
    }
}
