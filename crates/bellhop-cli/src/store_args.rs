//! Options shared by every command that opens a store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bellhop_embed::Embedder;
use bellhop_server::config::DatabaseConfig;
use bellhop_store::{EmbeddedStore, PostgresStore, Store, redact_url};
use clap::Args;
use tokio::runtime::Runtime;

use crate::ModelArgs;

/// Where the store lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory of the embedded store.
    #[arg(long, env = "BELLHOP_DATA_DIR", default_value = "bellhop-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://user:password@host/db`) instead of the
    /// embedded store.
    #[arg(long, env = "BELLHOP_DATABASE_URL", conflicts_with = "data_dir")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// Opens the store; a PostgreSQL store belongs to `runtime` (its connections do).
    pub fn open(&self, runtime: &Runtime) -> anyhow::Result<Arc<dyn Store>> {
        open_store(
            runtime,
            &self.data_dir,
            self.database_url.as_deref(),
            &DatabaseConfig::default(),
        )
    }
}

/// Opens the embedded store in `data_dir`, or the PostgreSQL database at `database_url`
/// (retrying while it is unreachable, then migrating its schema).
pub fn open_store(
    runtime: &Runtime,
    data_dir: &Path,
    database_url: Option<&str>,
    database: &DatabaseConfig,
) -> anyhow::Result<Arc<dyn Store>> {
    match database_url {
        Some(url) => {
            let wait = Duration::from_millis(database.connect_wait_ms);
            let store = runtime
                .block_on(PostgresStore::connect(database.options(url), wait))
                .with_context(|| format!("opening the database {}", redact_url(url)))?;
            Ok(Arc::new(store))
        }
        None => {
            let store = EmbeddedStore::open(data_dir)
                .with_context(|| format!("opening the store in {}", data_dir.display()))?;
            Ok(Arc::new(store))
        }
    }
}

/// Loads the embedding model.
pub fn load_embedder(model: &ModelArgs) -> anyhow::Result<Arc<Embedder>> {
    let source = model.source();
    let embedder = Embedder::load_with(&source, &model.options())
        .with_context(|| format!("loading model {source}"))?;
    Ok(Arc::new(embedder))
}

/// A runtime for the store's async interface (blocking work runs on its own threads).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
