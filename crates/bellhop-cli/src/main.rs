//! `bellhop`: the command-line front of the bellhop libraries.

mod ask;
mod database;
mod embed;
mod eval;
mod eval_answers;
mod ingest;
mod input;
mod llm_args;
mod search;
mod serve;
mod store_args;

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Fast answers from your own documents.
#[derive(Debug, Parser)]
#[command(name = "bellhop", version, about, propagate_version = true)]
struct Cli {
    /// Log filter, e.g. `info` or `bellhop_embed=debug` (also read from RUST_LOG)
    /// [default: info for serve, warn otherwise].
    #[arg(long, global = true, env = "BELLHOP_LOG")]
    log: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest files and directories into a collection.
    Ingest(ingest::IngestArgs),
    /// Search a collection.
    Search(search::SearchArgs),
    /// Answer a question from a collection, with citations.
    Ask(ask::AskArgs),
    /// Evaluate retrieval on a BEIR-layout dataset.
    Eval(eval::EvalArgs),
    /// Embed texts into vectors.
    Embed(embed::EmbedArgs),
    /// Serve the HTTP API.
    Serve(serve::ServeArgs),
    /// Copy collections between stores (a data directory or a postgres:// URL), vectors
    /// included.
    Copy(database::CopyArgs),
    /// Apply pending schema migrations to a PostgreSQL database.
    Migrate(database::MigrateArgs),
    /// Check a store's integrity (after a crash or a restore); fails on any problem.
    Check(database::CheckArgs),
    /// Print the SHA-256 of an API key, as the server config stores it.
    HashKey {
        /// The key.
        key: String,
    },
}

/// Where the embedding model comes from.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// A sentence-transformers model directory or a Hugging Face repo id
    /// [default: ./models/all-MiniLM-L6-v2 when present, else sentence-transformers/all-MiniLM-L6-v2]
    #[arg(long, env = "BELLHOP_MODEL")]
    pub model: Option<String>,
    /// What the model's dense weights are kept in: `f32` (vectors equal to
    /// sentence-transformers'), or `bf16` (rounded at load; faster short queries on CPUs with
    /// AVX-512; cosine to the f32 vectors about 0.99999)
    #[arg(long, env = "BELLHOP_PRECISION", default_value_t = bellhop_embed::Precision::F32)]
    pub precision: bellhop_embed::Precision,
}

impl ModelArgs {
    /// Loading options for this model.
    pub fn options(&self) -> bellhop_embed::EmbedderOptions {
        bellhop_embed::EmbedderOptions {
            precision: self.precision,
            ..bellhop_embed::EmbedderOptions::default()
        }
    }

    /// The model to load: the flag, else the fetched default, else the default repo id.
    pub fn source(&self) -> bellhop_embed::ModelSource {
        let spec = self.model.clone().unwrap_or_else(|| {
            let local = Path::new(LOCAL_DEFAULT_MODEL);
            if local.join("model.safetensors").is_file() {
                LOCAL_DEFAULT_MODEL.to_string()
            } else {
                bellhop_embed::DEFAULT_MODEL_REPO.to_string()
            }
        });
        bellhop_embed::ModelSource::parse(&spec)
    }
}

/// Where `scripts/fetch-model.sh` puts the default model.
const LOCAL_DEFAULT_MODEL: &str = "models/all-MiniLM-L6-v2";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match cli.command {
        Command::Serve(_) => "info",
        // `ask` reports a fallback answer itself, in one line.
        Command::Ask(_) => "warn,bellhop_answer::ask=error",
        _ => "warn",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or(cli.log.clone())
        .unwrap_or_else(|| default_filter.to_string());
    if !matches!(cli.command, Command::Serve(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(&filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(&args, &filter),
        Command::HashKey { key } => {
            println!("{}", bellhop_server::auth::hash_key(&key));
            Ok(())
        }
        Command::Ingest(args) => ingest::run(&args),
        Command::Search(args) => search::run(&args),
        Command::Ask(args) => ask::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Embed(args) => embed::run(&args),
        Command::Copy(args) => database::copy(&args),
        Command::Migrate(args) => database::migrate(&args),
        Command::Check(args) => database::check(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
