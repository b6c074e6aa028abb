//! `bellhop copy` (collections between the embedded store and PostgreSQL),
//! `bellhop migrate` (PostgreSQL's schema) and `bellhop check` (a store's integrity).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use bellhop_server::config::DatabaseConfig;
use bellhop_store::{IndexKind, PostgresStore, copy_collection, redact_url};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::ingest::IndexArg;
use crate::store_args::{StoreArgs, open_store, runtime};

/// Arguments of `bellhop copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to read: a data directory or a `postgres://` URL.
    #[arg(long)]
    from: String,
    /// The store to write: a data directory or a `postgres://` URL.
    #[arg(long)]
    to: String,
    /// Collections to copy [default: all]; each must not exist in the target.
    #[arg(long = "collection")]
    collections: Vec<String>,
    /// The copies' vector index [default: as in the source].
    #[arg(long, value_enum)]
    index: Option<IndexArg>,
}

/// Arguments of `bellhop migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database to migrate.
    #[arg(long, env = "BELLHOP_DATABASE_URL")]
    database_url: String,
}

/// Arguments of `bellhop check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `bellhop check`: the store's own consistency checks (for the embedded store,
/// SQLite's integrity check, then each collection's rows against its indexes and kept
/// counts), for an operator after a crash or a restore. Fails when a problem is found.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let store = args.store.open(&runtime)?;
    let report = runtime.block_on(store.check_integrity())?;
    for problem in &report.problems {
        eprintln!("problem: {problem}");
    }
    anyhow::ensure!(
        report.is_ok(),
        "{} problem(s) in {} collections ({} chunks)",
        report.problems.len(),
        report.collections,
        report.chunks
    );
    println!(
        "ok: {} collections, {} chunks",
        report.collections, report.chunks
    );
    Ok(())
}

fn is_database_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Names a store location for messages, without a password.
fn describe(location: &str) -> String {
    if is_database_url(location) {
        redact_url(location)
    } else {
        location.to_string()
    }
}

/// Runs `bellhop copy`.
pub fn copy(args: &CopyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.from != args.to, "--from and --to name the same store");
    let runtime = runtime()?;
    let open = |location: &str| {
        let (dir, url) = if is_database_url(location) {
            (Path::new(""), Some(location))
        } else {
            (Path::new(location), None)
        };
        if url.is_none() {
            anyhow::ensure!(
                dir.join("bellhop.sqlite3").is_file() || location == args.to,
                "{location} is not a bellhop data directory"
            );
        }
        open_store(&runtime, dir, url, &DatabaseConfig::default())
    };
    let from = open(&args.from)?;
    let to = open(&args.to)?;
    runtime.block_on(async {
        let names = if args.collections.is_empty() {
            from.list_collections()
                .await?
                .into_iter()
                .map(|info| info.spec.name)
                .collect()
        } else {
            args.collections.clone()
        };
        for name in names {
            let info = from.collection(&name).await?;
            let bar = ProgressBar::new(info.chunks).with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} chunks {per_sec} {elapsed}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(name.clone());
            let report = copy_collection(
                from.as_ref(),
                to.as_ref(),
                &name,
                args.index.map(IndexKind::from),
                |report| bar.set_position(report.chunks as u64),
            )
            .await
            .with_context(|| {
                format!(
                    "copying {name:?} from {} to {}",
                    describe(&args.from),
                    describe(&args.to)
                )
            })?;
            bar.finish_and_clear();
            println!(
                "{name}: {} documents, {} chunks, {} source hashes copied in {:.1} s",
                report.documents,
                report.chunks,
                report.sources,
                bar.elapsed().as_secs_f64()
            );
        }
        anyhow::Ok(())
    })
}

/// Runs `bellhop migrate`.
pub fn migrate(args: &MigrateArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let config = DatabaseConfig::default();
    let applied = runtime.block_on(async {
        let store = PostgresStore::connect_without_migrating(
            config.options(&args.database_url),
            Duration::from_millis(config.connect_wait_ms),
        )
        .await?;
        store.migrate().await
    })?;
    println!(
        "{}: {applied} migration(s) applied, schema up to date",
        redact_url(&args.database_url)
    );
    Ok(())
}
