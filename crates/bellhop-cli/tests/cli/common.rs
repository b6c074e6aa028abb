//! Running the real `bellhop` binary over a data directory, with the fetched model.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The embedding model `scripts/fetch-model.sh` fetches.
pub fn model_dir() -> PathBuf {
    let dir = repo().join("models/all-MiniLM-L6-v2");
    assert!(
        dir.is_dir(),
        "{} is missing: run scripts/fetch-model.sh",
        dir.display()
    );
    dir
}

/// Runs `bellhop ARGS --model … --data-dir DATA_DIR`.
pub fn bellhop(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(args)
        .arg("--model")
        .arg(model_dir())
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

/// Exit status and both streams, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Stdout of a run that must have succeeded.
pub fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", describe(output));
    String::from_utf8(output.stdout.clone()).unwrap()
}
