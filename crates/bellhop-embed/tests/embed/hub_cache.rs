//! Repo ids resolve through the standard Hugging Face cache layout, offline.

use std::path::Path;

use crate::common::{cosine, model_dir, references};
use bellhop_embed::{EmbedError, Embedder, EmbedderOptions, HubOptions, ModelSource};

const REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
const COMMIT: &str = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf";

/// Lays the model out as `huggingface_hub` does: blobs linked from a snapshot named after the
/// commit that `refs/main` points to.
fn hub_cache_with_model(cache: &Path) {
    let repo = cache.join("models--sentence-transformers--all-MiniLM-L6-v2");
    let snapshot = repo.join("snapshots").join(COMMIT);
    std::fs::create_dir_all(snapshot.join("1_Pooling")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), COMMIT).unwrap();
    for name in [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        std::os::unix::fs::symlink(model_dir().join(name), snapshot.join(name)).unwrap();
    }
}

fn offline(cache: &Path) -> EmbedderOptions {
    EmbedderOptions {
        hub: HubOptions {
            cache_dir: cache.to_path_buf(),
            offline: true,
        },
        ..EmbedderOptions::default()
    }
}

#[test]
fn repo_id_loads_from_the_cache_offline() {
    let temp = tempfile::tempdir().unwrap();
    hub_cache_with_model(temp.path());
    let source = ModelSource::parse(REPO);
    assert!(matches!(source, ModelSource::Hub { .. }));
    let embedder = Embedder::load_with(&source, &offline(temp.path())).unwrap();
    assert_eq!(embedder.model_id(), REPO);
    assert_eq!(embedder.max_seq_length(), 256);
    let reference = &references()[1];
    let vectors = embedder.embed(&[reference.text.as_str()]).unwrap();
    assert!(cosine(vectors.row(0), &reference.embedding) >= 0.9999);
}

#[test]
fn offline_without_a_cached_copy_says_how_to_get_the_files() {
    let temp = tempfile::tempdir().unwrap();
    let err = Embedder::load_with(&ModelSource::parse(REPO), &offline(temp.path())).unwrap_err();
    assert!(matches!(err, EmbedError::Hub { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("HF_HUB_OFFLINE"), "{message}");
    assert!(
        message.contains(&format!("huggingface-cli download {REPO}")),
        "{message}"
    );
    assert!(message.contains("--model DIR"), "{message}");
}

#[test]
fn a_partial_cached_copy_is_not_used() {
    let temp = tempfile::tempdir().unwrap();
    hub_cache_with_model(temp.path());
    let snapshot = temp
        .path()
        .join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots")
        .join(COMMIT);
    std::fs::remove_file(snapshot.join("model.safetensors")).unwrap();
    let err = Embedder::load_with(&ModelSource::parse(REPO), &offline(temp.path())).unwrap_err();
    assert!(matches!(err, EmbedError::Hub { .. }), "{err}");
}
