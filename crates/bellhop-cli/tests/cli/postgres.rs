//! The commands against a real PostgreSQL: `migrate`, `ingest`/`search` with
//! `--database-url`, and `copy` between a data directory and the database both ways.

use std::process::{Command, Output};

use bellhop_test_support::PostgresServer;
use serde_json::Value;

use crate::common::{model_dir, repo, stdout};

/// Runs `bellhop ARGS` with nothing added.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(args)
        .output()
        .unwrap()
}

fn with_model(args: &[&str]) -> Output {
    let model = model_dir();
    let mut all = args.to_vec();
    all.extend(["--model", model.to_str().unwrap()]);
    run(&all)
}

/// Dense search results as (document, text) pairs.
fn search(store: &[&str]) -> Vec<(String, String)> {
    let mut args = vec![
        "search",
        "what are the spa opening hours?",
        "--collection",
        "wellness",
        "--mode",
        "dense",
        "-k",
        "5",
        "--json",
    ];
    args.extend_from_slice(store);
    let hits: Vec<Value> = serde_json::from_str(&stdout(&with_model(&args))).unwrap();
    assert_eq!(hits.len(), 5);
    hits.iter()
        .map(|hit| {
            (
                hit["document_id"].as_str().unwrap().to_string(),
                hit["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn migrate_ingest_search_and_copy_both_ways() {
    let server = PostgresServer::shared();
    let url = server.create_database();
    // The server trusts local connections, so a password is accepted and must not be shown.
    let with_password = url.replace("postgres@", "postgres:secret@");
    let migrated = stdout(&run(&["migrate", "--database-url", &with_password]));
    assert!(migrated.contains("5 migration(s) applied"), "{migrated}");
    assert!(!migrated.contains("secret"), "{migrated}");
    let again = stdout(&run(&["migrate", "--database-url", &url]));
    assert!(again.contains("0 migration(s) applied"), "{again}");

    let wellness = repo().join("examples/demo-hotel/wellness");
    let wellness = wellness.to_str().unwrap();
    let ingest = [
        "ingest",
        wellness,
        "--collection",
        "wellness",
        "--database-url",
        &url,
    ];
    let first = stdout(&with_model(&ingest));
    assert!(first.contains("0 failed"), "{first}");
    // Source hashes live in the database: a second run skips every file.
    let second = stdout(&with_model(&ingest));
    assert!(
        second.contains(" 0 files ingested") || second.contains(": 0 files ingested"),
        "{second}"
    );

    let in_postgres = search(&["--database-url", &url]);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("copy");
    let data_dir = data_dir.to_str().unwrap();
    let copied = stdout(&run(&["copy", "--from", &url, "--to", data_dir]));
    assert!(copied.contains("wellness:"), "{copied}");
    assert_eq!(search(&["--data-dir", data_dir]), in_postgres);

    let back = server.create_database();
    stdout(&run(&[
        "copy",
        "--from",
        data_dir,
        "--to",
        &back,
        "--collection",
        "wellness",
    ]));
    assert_eq!(search(&["--database-url", &back]), in_postgres);
    // The copy kept the source hashes: ingesting the same files into it changes nothing.
    let resumed = stdout(&with_model(&[
        "ingest",
        wellness,
        "--collection",
        "wellness",
        "--database-url",
        &back,
    ]));
    assert!(
        resumed.contains(" 0 files ingested") || resumed.contains(": 0 files ingested"),
        "{resumed}"
    );

    // Copying onto an existing collection is refused and names it.
    let refused = run(&["copy", "--from", data_dir, "--to", &back]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("already exists"), "{message}");
}
