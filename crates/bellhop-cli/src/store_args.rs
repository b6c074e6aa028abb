//! Options shared by every command that opens a store.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bellhop_embed::{Embedder, EmbedderOptions};
use bellhop_store::{EmbeddedStore, Store};
use clap::Args;

use crate::ModelArgs;

/// Where the store lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory of the embedded store.
    #[arg(long, env = "BELLHOP_DATA_DIR", default_value = "bellhop-data")]
    pub data_dir: PathBuf,
}

impl StoreArgs {
    /// Opens the store.
    pub fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let store = EmbeddedStore::open(&self.data_dir)
            .with_context(|| format!("opening the store in {}", self.data_dir.display()))?;
        Ok(Arc::new(store))
    }
}

/// Loads the embedding model.
pub fn load_embedder(model: &ModelArgs) -> anyhow::Result<Arc<Embedder>> {
    let source = model.source();
    let embedder = Embedder::load_with(&source, &EmbedderOptions::default())
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
