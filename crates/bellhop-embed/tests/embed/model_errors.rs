//! A broken model directory fails to load with an error that names the file and the fault.

use std::path::{Path, PathBuf};

use crate::common::{cosine, model_dir, references};
use bellhop_embed::{EmbedError, Embedder, ModelSource};

/// A copy of the default model whose files can be broken one at a time; the weights are
/// linked, not copied.
fn model_copy() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("model");
    copy_tree(&model_dir(), &dir);
    (temp, dir)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() == "model.safetensors" {
            std::os::unix::fs::symlink(entry.path(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn load_error(dir: &Path) -> EmbedError {
    Embedder::load(&ModelSource::Dir(dir.to_path_buf())).unwrap_err()
}

#[test]
fn missing_config_names_the_file() {
    let (_temp, dir) = model_copy();
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn malformed_config_names_the_file_and_the_fault() {
    let (_temp, dir) = model_copy();
    std::fs::write(dir.join("config.json"), "{\"hidden_size\": 384,").unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::MalformedFile { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("config.json") && message.contains("EOF"),
        "{message}"
    );
}

#[test]
fn unsupported_architecture_lists_the_supported_ones() {
    let (_temp, dir) = model_copy();
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        config.replace("\"bert\"", "\"gpt2\""),
    )
    .unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::Unsupported { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("gpt2") && message.contains("supported: model_type bert"),
        "{message}"
    );
}

#[test]
fn unsupported_module_and_pooling_are_named() {
    let (_temp, dir) = model_copy();
    let modules = std::fs::read_to_string(dir.join("modules.json")).unwrap();
    let with_lstm = modules.replace("models.Normalize", "models.LSTM");
    std::fs::write(dir.join("modules.json"), with_lstm).unwrap();
    let err = load_error(&dir);
    assert!(
        err.to_string()
            .contains("sentence_transformers.models.LSTM"),
        "{err}"
    );

    std::fs::write(dir.join("modules.json"), modules).unwrap();
    let pooling = std::fs::read_to_string(dir.join("1_Pooling/config.json")).unwrap();
    let last_token = pooling.replace(
        "\"pooling_mode_mean_tokens\": true",
        "\"pooling_mode_lasttoken\": true",
    );
    std::fs::write(dir.join("1_Pooling/config.json"), last_token).unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("1_Pooling/config.json"), "{err}");
}

#[test]
fn missing_or_corrupt_weights_name_the_file() {
    let (_temp, dir) = model_copy();
    let weights = dir.join("model.safetensors");
    std::fs::remove_file(&weights).unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    // A truncated download: the header promises more bytes than the file has.
    let original = std::fs::read(model_dir().join("model.safetensors")).unwrap();
    std::fs::write(&weights, &original[..original.len() / 2]).unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::MalformedFile { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    std::fs::write(&weights, b"not a safetensors file").unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::MalformedFile { .. }), "{err}");
}

#[test]
fn corrupt_tokenizer_names_the_file() {
    let (_temp, dir) = model_copy();
    std::fs::write(dir.join("tokenizer.json"), "{\"version\": \"1.0\"}").unwrap();
    let err = load_error(&dir);
    assert!(matches!(err, EmbedError::MalformedFile { .. }), "{err}");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn a_plain_transformer_directory_falls_back_to_mean_pooling_without_normalising() {
    let (_temp, dir) = model_copy();
    for name in ["modules.json", "sentence_bert_config.json"] {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    std::fs::remove_dir_all(dir.join("1_Pooling")).unwrap();
    let embedder = Embedder::load(&ModelSource::Dir(dir)).unwrap();
    // Without sentence_bert_config.json the tokenizer's model_max_length (512) applies.
    assert_eq!(embedder.max_seq_length(), 512);
    let reference = &references()[0];
    let vectors = embedder.embed(&[reference.text.as_str()]).unwrap();
    let norm: f32 = vectors.row(0).iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "not normalised: norm {norm}");
    // Normalisation only rescales, so the direction is still sentence-transformers'.
    assert!(cosine(vectors.row(0), &reference.embedding) >= 0.9999);
}

#[test]
fn a_model_card_decides_which_shorter_sizes_are_allowed() {
    let (_temp, dir) = model_copy();
    let plain = Embedder::load(&ModelSource::Dir(dir.clone())).unwrap();
    assert!(plain.matryoshka_dimensions().is_empty());
    let err = plain.check_dimensions(128).unwrap_err();
    assert!(matches!(err, EmbedError::UnsupportedDimensions { .. }));
    assert!(
        err.to_string().contains("not trained to be shortened"),
        "{err}"
    );
    plain.check_dimensions(384).unwrap();

    // A card that cannot be read as text is no card: the model still loads.
    std::fs::write(dir.join("README.md"), [0xff, 0xfe, 0x00]).unwrap();
    let unreadable = Embedder::load(&ModelSource::Dir(dir.clone())).unwrap();
    assert!(unreadable.matryoshka_dimensions().is_empty());

    std::fs::write(
        dir.join("README.md"),
        "Trained with MatryoshkaLoss.\n\"matryoshka_dims\": [384, 192, 96]\n",
    )
    .unwrap();
    let trained = Embedder::load(&ModelSource::Dir(dir)).unwrap();
    assert_eq!(trained.matryoshka_dimensions(), &[192, 96]);
    let vectors = trained.embed(&["Is the pool heated?"]).unwrap();
    let full = vectors.row(0).to_vec();
    let short = vectors.shortened(96);
    assert_eq!(short.dim(), 96);
    assert!(cosine(&full[..96], short.row(0)) > 0.99999);
}
