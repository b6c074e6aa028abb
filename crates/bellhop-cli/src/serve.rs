//! `bellhop serve`: the HTTP API over the embedded store or PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bellhop_ingest::{FileOutcome, Ingestor};
use bellhop_retrieval::EmbeddingModels;
use bellhop_server::config::LogFormat;
use bellhop_server::{AnswerModels, AppState, ServerConfig};
use bellhop_store::{ChunkingSettings, IndexKind, Store, StoreError};
use clap::Args;

use crate::ModelArgs;
use crate::llm_args::LlmArgs;
use crate::store_args::{load_embedder, open_store};

/// Threads for blocking work (searches, SQLite, ingestion). Searches are short CPU work on a
/// few cores: a large pool under hundreds of concurrent requests only adds threads, stacks
/// and allocator arenas (resident memory) without adding throughput.
const MAX_BLOCKING_THREADS: usize = 16;

/// glibc gives threads that allocate at the same time arenas of their own, up to eight per
/// core, and each arena keeps what was freed in it: under hundreds of connections that is
/// tens of megabytes resident for no throughput on a few cores. One arena per core, unless
/// `MALLOC_ARENA_MAX` says otherwise.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_allocator_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // SAFETY: mallopt sets one of the allocator's tunables; it is called before the runtime
    // starts its threads.
    unsafe {
        libc::mallopt(
            libc::M_ARENA_MAX,
            cores.try_into().unwrap_or(libc::c_int::MAX),
        );
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_allocator_arenas() {}

fn serve_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    limit_allocator_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")
}

/// The collection `--demo` serves.
pub const DEMO_COLLECTION: &str = "demo-hotel";

/// `bellhop serve` options; each overrides the config file and `BELLHOP_*` variables.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML config file (see docs/operations.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    addr: Option<String>,
    /// Data directory of the embedded store [default: bellhop-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://user:password@host/db`) instead of the embedded
    /// store; also `BELLHOP_DATABASE_URL`.
    #[arg(long)]
    database_url: Option<String>,
    #[command(flatten)]
    model: ModelArgs,
    /// Another embedding model (a directory or a Hugging Face repo id) whose collections
    /// this server serves, loaded on first use; repeat for more.
    #[arg(long = "more-model", value_name = "MODEL")]
    more_models: Vec<String>,
    /// Serve on a non-loopback address without API keys.
    #[arg(long)]
    insecure_no_auth: bool,
    /// Switch the query-embedding, search and answer caches off.
    #[arg(long)]
    no_cache: bool,
    /// Log lines as `text` or `json`.
    #[arg(long)]
    log_format: Option<String>,
    /// Ingest the demo hotel into `demo-hotel` when that collection is absent, then serve.
    #[arg(long)]
    demo: bool,
    /// Where the demo hotel's files are.
    #[arg(long, default_value = "examples/demo-hotel")]
    demo_dir: PathBuf,
    #[command(flatten)]
    llm: LlmArgs,
    /// Milliseconds within which every answer is given; a late model is replaced by the
    /// extractive answer [default: 15000].
    #[arg(long)]
    answer_deadline_ms: Option<u64>,
}

impl ServeArgs {
    fn overrides(&self) -> anyhow::Result<serde_json::Value> {
        let mut overrides = serde_json::Map::new();
        if let Some(addr) = &self.addr {
            overrides.insert("addr".into(), addr.clone().into());
        }
        if let Some(dir) = &self.data_dir {
            overrides.insert("data_dir".into(), dir.to_string_lossy().into_owned().into());
        }
        if let Some(url) = &self.database_url {
            overrides.insert("database_url".into(), url.clone().into());
        }
        if let Some(model) = &self.model.model {
            overrides.insert("model".into(), model.clone().into());
        }
        if self.model.precision != bellhop_embed::Precision::F32 {
            overrides.insert("precision".into(), self.model.precision.to_string().into());
        }
        if !self.more_models.is_empty() {
            overrides.insert("more_models".into(), self.more_models.clone().into());
        }
        if self.insecure_no_auth {
            overrides.insert("insecure_no_auth".into(), true.into());
        }
        if self.no_cache {
            overrides.insert("cache".into(), serde_json::json!({"enabled": false}));
        }
        if let Some(format) = &self.log_format {
            overrides.insert("log_format".into(), format.clone().into());
        }
        let mut llm = serde_json::Map::new();
        if let Some(gguf) = self.llm.gguf()? {
            llm.insert("gguf".into(), gguf.to_string_lossy().into_owned().into());
        }
        if let Some(deadline) = self.answer_deadline_ms {
            llm.insert("answer_deadline_ms".into(), deadline.into());
        }
        let upstreams = self.llm.upstreams()?;
        if !upstreams.is_empty() {
            llm.insert("upstreams".into(), serde_json::to_value(upstreams)?);
        }
        if !llm.is_empty() {
            overrides.insert("llm".into(), llm.into());
        }
        Ok(overrides.into())
    }
}

/// Loads the config, then logs in its format.
pub fn run(args: &ServeArgs, log_filter: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = ServerConfig::load(args.config.as_deref(), &args.overrides()?)?;
    let filter = tracing_subscriber::EnvFilter::new(log_filter);
    match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
    let model = ModelArgs {
        model: config.model.clone(),
        precision: config.precision,
    };
    let embedder = load_embedder(&model)?;
    let embedding = Arc::new(
        EmbeddingModels::new(
            Arc::clone(&embedder),
            model.source(),
            config
                .more_models
                .iter()
                .map(|more| bellhop_embed::ModelSource::parse(more))
                .collect(),
            model.options(),
            AppState::queue_options(&config),
            config.limits.max_resident_models,
        )
        .map_err(anyhow::Error::msg)?,
    );
    let runtime = serve_runtime()?;
    let store = open_store(
        &runtime,
        &config.data_dir,
        config.database_url.as_deref(),
        &config.database,
    )?;
    if config
        .llm
        .upstreams
        .iter()
        .any(|upstream| upstream.model.is_empty())
    {
        anyhow::bail!("every --llm-upstream needs a model: pass --llm-upstream-model");
    }
    let models = AnswerModels::load(&config.llm).context("loading the answer models")?;
    runtime.block_on(async move {
        if args.demo {
            ingest_demo(&store, &embedder, &args.demo_dir).await?;
        }
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("listening on {}", config.addr))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::with_embedding_models(
            config, store, embedding, models,
        ));
        tracing::info!(%addr, startup_ms = started.elapsed().as_millis() as u64, "serving");
        eprintln!("bellhop listening on http://{addr}");
        if args.demo {
            eprintln!("demo hotel page with the guest widget: http://{addr}/demo");
            eprintln!("staff console: http://{addr}/admin");
        }
        bellhop_server::serve(listener, state, bellhop_server::shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The demo hotel's collection: default chunking, and a fallback that sends guests to
/// reception in their own language.
fn demo_spec(embedder: &bellhop_embed::Embedder) -> bellhop_store::CollectionSpec {
    let mut spec =
        bellhop_store::CollectionSpec::new(DEMO_COLLECTION, embedder.model_id(), embedder.dim());
    spec.chunking.max_tokens = spec.chunking.max_tokens.min(embedder.max_seq_length());
    spec.fallback_text = Some(
        "I don't have that information. Reception is happy to help, 24 hours a day: dial 0 from your room."
            .into(),
    );
    spec.fallback_texts = [
        ("de", "Dazu habe ich leider keine Information. Die Rezeption hilft Ihnen rund um die Uhr gern weiter: Wählen Sie die 0 von Ihrem Zimmer."),
        ("es", "No tengo esa información. La recepción le ayudará encantada las 24 horas: marque el 0 desde su habitación."),
        ("fr", "Je n'ai pas cette information. La réception vous aidera volontiers 24 h/24 : composez le 0 depuis votre chambre."),
        ("it", "Non ho questa informazione. La reception è a disposizione 24 ore su 24: componga lo 0 dalla camera."),
        ("ja", "申し訳ありませんが、その情報はございません。フロントが24時間承ります。お部屋から0番をダイヤルしてください。"),
        ("zh", "抱歉，我没有这方面的信息。前台24小时为您服务：请在房间内拨打0。"),
    ]
    .into_iter()
    .map(|(language, text)| (language.to_string(), text.to_string()))
    .collect();
    spec
}

async fn ingest_demo(
    store: &Arc<dyn Store>,
    embedder: &Arc<bellhop_embed::Embedder>,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    match store.collection(DEMO_COLLECTION).await {
        Ok(info) if info.documents > 0 => return Ok(()),
        Ok(_) => {}
        Err(StoreError::CollectionNotFound(_)) => {
            store.create_collection(demo_spec(embedder)).await?;
        }
        Err(err) => return Err(err.into()),
    }
    anyhow::ensure!(
        dir.is_dir(),
        "--demo needs the demo hotel's files in {} (run from the repository root, or pass --demo-dir)",
        dir.display()
    );
    eprintln!("ingesting the demo hotel from {} …", dir.display());
    let ingestor = Ingestor::new(Arc::clone(store), Arc::clone(embedder));
    ingestor
        .ensure_collection(
            DEMO_COLLECTION,
            ChunkingSettings::default(),
            IndexKind::Auto,
        )
        .await?;
    let report = ingestor
        .ingest_paths(DEMO_COLLECTION, &[dir.to_path_buf()], None)
        .await?;
    for file in &report.files {
        if let FileOutcome::Failed { error } = &file.outcome {
            eprintln!("error: {error}");
        }
    }
    eprintln!(
        "{DEMO_COLLECTION}: {} chunks in {:.1} s",
        report.chunks(),
        report.elapsed.as_secs_f64()
    );
    Ok(())
}
