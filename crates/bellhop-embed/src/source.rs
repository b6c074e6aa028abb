//! Where a model's files come from: a local directory or a Hugging Face Hub repo id.

use std::fmt;
use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};

use crate::error::{EmbedError, Result};

/// Files a model cannot work without.
const REQUIRED_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];
/// Files a sentence-transformers model usually has; absent ones fall back to defaults.
const OPTIONAL_FILES: &[&str] = &[
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "tokenizer_config.json",
    "config_sentence_transformers.json",
    // The model card: it says whether the vectors may be shortened (Matryoshka).
    "README.md",
];

/// A model given by the user: a directory path or a Hub repo id such as
/// `sentence-transformers/all-MiniLM-L6-v2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A local sentence-transformers directory.
    Dir(PathBuf),
    /// A repo on the Hugging Face Hub, at a revision (branch, tag or commit).
    Hub {
        /// `owner/name`.
        repo_id: String,
        /// Branch, tag or commit; `main` by default.
        revision: String,
    },
}

impl ModelSource {
    /// Reads a `--model` argument: an existing path is a directory, `owner/name` (optionally
    /// `@revision`) is a Hub repo id, anything else is taken as a directory that will fail to load
    /// with a clear error.
    pub fn parse(spec: &str) -> Self {
        let path = Path::new(spec);
        let looks_like_path = path.exists()
            || spec.starts_with(['.', '/', '~'])
            || spec.matches('/').count() != 1
            || spec.contains('\\');
        if looks_like_path {
            return Self::Dir(path.to_path_buf());
        }
        let (repo_id, revision) = match spec.split_once('@') {
            Some((repo, rev)) => (repo, rev),
            None => (spec, "main"),
        };
        Self::Hub {
            repo_id: repo_id.to_string(),
            revision: revision.to_string(),
        }
    }

    /// A stable name for the model, used in responses and metrics.
    pub fn id(&self) -> String {
        match self {
            Self::Dir(path) => path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            Self::Hub { repo_id, .. } => repo_id.clone(),
        }
    }

    /// Returns a local directory holding the model's files, downloading them when needed.
    pub fn resolve(&self, hub: &HubOptions) -> Result<PathBuf> {
        match self {
            Self::Dir(path) => Ok(path.clone()),
            Self::Hub { repo_id, revision } => resolve_hub(repo_id, revision, hub),
        }
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(path) => write!(f, "{}", path.display()),
            Self::Hub { repo_id, revision } if revision == "main" => write!(f, "{repo_id}"),
            Self::Hub { repo_id, revision } => write!(f, "{repo_id}@{revision}"),
        }
    }
}

/// How the Hub is reached: the cache directory and whether the network may be used.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// The Hugging Face cache (`…/huggingface/hub`), shared with the Python libraries.
    pub cache_dir: PathBuf,
    /// Never touch the network; use cached files only.
    pub offline: bool,
}

impl HubOptions {
    /// Reads the same environment variables as `huggingface_hub`: `HF_HUB_CACHE`, `HF_HOME`
    /// and `HF_HUB_OFFLINE`.
    pub fn from_env() -> Self {
        let cache_dir = std::env::var_os("HF_HUB_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HF_HOME").map(|home| PathBuf::from(home).join("hub")))
            .unwrap_or_else(|| Cache::default().path().clone());
        let offline = std::env::var("HF_HUB_OFFLINE")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        Self { cache_dir, offline }
    }
}

fn resolve_hub(repo_id: &str, revision: &str, hub: &HubOptions) -> Result<PathBuf> {
    let repo = Repo::with_revision(repo_id.to_string(), RepoType::Model, revision.to_string());
    let cache = Cache::new(hub.cache_dir.clone()).repo(repo.clone());
    if let Some(dir) = cached_snapshot(&cache) {
        return Ok(dir);
    }
    let how_to_get = format!(
        "on a machine with network access run `huggingface-cli download {repo_id}` and copy its \
         hub cache into {cache}, or pass the model directory with --model DIR",
        cache = hub.cache_dir.display()
    );
    if hub.offline {
        return Err(EmbedError::Hub {
            repo_id: repo_id.to_string(),
            reason: format!(
                "offline (HF_HUB_OFFLINE is set) and no complete copy in {}; {how_to_get}",
                hub.cache_dir.display()
            ),
        });
    }
    download(repo, hub).map_err(|reason| EmbedError::Hub {
        repo_id: repo_id.to_string(),
        reason: format!("{reason}; {how_to_get}"),
    })
}

/// The snapshot directory when every required file is in the cache.
fn cached_snapshot(cache: &hf_hub::CacheRepo) -> Option<PathBuf> {
    let mut dir = None;
    for name in REQUIRED_FILES {
        let path = cache.get(name)?;
        dir = path.parent().map(Path::to_path_buf);
    }
    dir
}

fn download(repo: Repo, hub: &HubOptions) -> std::result::Result<PathBuf, String> {
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_cache_dir(hub.cache_dir.clone())
        .with_progress(false)
        .build()
        .map_err(|err| err.to_string())?;
    let api = api.repo(repo);
    let mut dir = None;
    for name in REQUIRED_FILES {
        let path = api
            .get(name)
            .map_err(|err| format!("downloading {name}: {err}"))?;
        dir = path.parent().map(Path::to_path_buf);
    }
    for name in OPTIONAL_FILES {
        // A missing optional file is normal (not every repo is a sentence-transformers one).
        if let Err(err) = api.get(name) {
            tracing::debug!(file = name, error = %err, "optional model file not downloaded");
        }
    }
    let dir = dir.ok_or_else(|| "no files were downloaded".to_string())?;
    // Dense modules live in folders that modules.json names.
    for folder in dense_module_folders(&dir) {
        for name in ["config.json", "model.safetensors"] {
            let file = format!("{folder}/{name}");
            api.get(&file)
                .map_err(|err| format!("downloading {file}: {err}"))?;
        }
    }
    Ok(dir)
}

/// The folders of the `Dense` modules a downloaded `modules.json` lists.
fn dense_module_folders(dir: &Path) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        path: String,
    }
    let Ok(text) = std::fs::read_to_string(dir.join("modules.json")) else {
        return Vec::new();
    };
    let entries: Vec<Entry> = serde_json::from_str(&text).unwrap_or_default();
    entries
        .into_iter()
        .filter(|entry| entry.kind.ends_with(".Dense") && !entry.path.is_empty())
        .map(|entry| entry.path)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repo_ids_and_paths() {
        assert_eq!(
            ModelSource::parse("sentence-transformers/all-MiniLM-L6-v2"),
            ModelSource::Hub {
                repo_id: "sentence-transformers/all-MiniLM-L6-v2".into(),
                revision: "main".into()
            }
        );
        assert_eq!(
            ModelSource::parse("BAAI/bge-small-en-v1.5@v2"),
            ModelSource::Hub {
                repo_id: "BAAI/bge-small-en-v1.5".into(),
                revision: "v2".into()
            }
        );
        assert_eq!(
            ModelSource::parse("./models/x"),
            ModelSource::Dir("./models/x".into())
        );
        assert_eq!(
            ModelSource::parse("/abs/model"),
            ModelSource::Dir("/abs/model".into())
        );
        assert_eq!(
            ModelSource::parse("a/b/c"),
            ModelSource::Dir("a/b/c".into())
        );
    }
}
