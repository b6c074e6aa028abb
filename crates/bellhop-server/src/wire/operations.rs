//! Health and readiness.

use serde::Serialize;
use utoipa::ToSchema;

/// `"ok"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Alive.
    Ok,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: HealthStatus,
}

/// `GET /ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always true (a server that is not ready answers 503).
    pub ready: bool,
    /// The embedding model.
    pub model: String,
    /// Collections in the store.
    pub collections: usize,
    /// The generators of answers.
    pub generators: Generators,
}

/// The generators of answers and how they are doing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Generators {
    /// The generator of answers that name none.
    pub default: String,
    /// The local chat model, when one is loaded.
    pub local: Option<String>,
    /// The OpenAI-compatible upstreams.
    pub upstreams: Vec<UpstreamStatus>,
}

/// How one upstream is doing.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamStatus {
    /// Its API root.
    pub base_url: String,
    /// The model it is asked for.
    pub model: String,
    /// False while it is ejected after a failure.
    pub healthy: bool,
    /// Requests it is serving now.
    pub in_flight: usize,
    /// Failures since the server started.
    pub failures: u64,
}

impl From<bellhop_generate::UpstreamStatus> for UpstreamStatus {
    fn from(status: bellhop_generate::UpstreamStatus) -> Self {
        Self {
            base_url: status.base_url,
            model: status.model,
            healthy: status.healthy,
            in_flight: status.in_flight,
            failures: status.failures,
        }
    }
}
