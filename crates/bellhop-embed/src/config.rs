//! The files of a sentence-transformers model directory, parsed into plain structs.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{EmbedError, Result};

/// Model types whose weights and forward pass this engine implements.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["bert"];

/// The activation functions a BERT feed-forward layer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenAct {
    /// The exact, erf-based GELU (Hugging Face's `gelu`).
    Gelu,
    /// The tanh approximation of GELU.
    #[serde(alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluNew,
    /// Rectified linear unit.
    Relu,
}

/// `config.json` of a BERT model: the subset of fields the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    /// `model_type` as Hugging Face transformers writes it.
    #[serde(default)]
    pub model_type: Option<String>,
    /// Size of the token vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Number of attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Activation of the feed-forward layer.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: HiddenAct,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Number of token types (segments).
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    /// Epsilon of every layer norm.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Only `absolute` position embeddings are implemented.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_hidden_act() -> HiddenAct {
    HiddenAct::Gelu
}

fn default_type_vocab_size() -> usize {
    2
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

/// How token vectors become one sentence vector (`1_Pooling/config.json`).
///
/// When several modes are on, their outputs are concatenated in sentence-transformers' order:
/// CLS, max, mean, mean-sqrt-len.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PoolingConfig {
    /// Output width; must equal the model's hidden size.
    pub word_embedding_dimension: usize,
    /// Take the first token's vector.
    #[serde(default)]
    pub pooling_mode_cls_token: bool,
    /// Average the token vectors.
    #[serde(default)]
    pub pooling_mode_mean_tokens: bool,
    /// Take the element-wise maximum of the token vectors.
    #[serde(default)]
    pub pooling_mode_max_tokens: bool,
    /// Sum the token vectors and divide by the square root of the token count.
    #[serde(default)]
    pub pooling_mode_mean_sqrt_len_tokens: bool,
    /// Weighted mean pooling (not implemented).
    #[serde(default)]
    pub pooling_mode_weightedmean_tokens: bool,
    /// Last-token pooling (not implemented).
    #[serde(default)]
    pub pooling_mode_lasttoken: bool,
}

impl PoolingConfig {
    /// Mean pooling, which sentence-transformers falls back to for a plain transformer directory.
    pub fn mean(dim: usize) -> Self {
        Self {
            word_embedding_dimension: dim,
            pooling_mode_cls_token: false,
            pooling_mode_mean_tokens: true,
            pooling_mode_max_tokens: false,
            pooling_mode_mean_sqrt_len_tokens: false,
            pooling_mode_weightedmean_tokens: false,
            pooling_mode_lasttoken: false,
        }
    }

    /// The number of pooling modes that are on; the output is this many times the hidden size.
    pub fn mode_count(&self) -> usize {
        [
            self.pooling_mode_cls_token,
            self.pooling_mode_max_tokens,
            self.pooling_mode_mean_tokens,
            self.pooling_mode_mean_sqrt_len_tokens,
        ]
        .iter()
        .filter(|on| **on)
        .count()
    }
}

/// `sentence_bert_config.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct SentenceBertConfig {
    /// Token count at which input is truncated.
    pub max_seq_length: Option<usize>,
    /// Lowercase text before tokenizing.
    #[serde(default)]
    pub do_lower_case: bool,
}

/// One entry of `modules.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ModuleEntry {
    /// The Python class, e.g. `sentence_transformers.models.Pooling`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The module's folder, relative to the model directory.
    #[serde(default)]
    pub path: String,
}

/// Everything known about a model directory before its weights are loaded.
#[derive(Debug, Clone)]
pub struct ModelLayout {
    /// The model directory.
    pub dir: PathBuf,
    /// The transformer's configuration.
    pub bert: BertConfig,
    /// How token vectors are pooled.
    pub pooling: PoolingConfig,
    /// Whether sentence vectors are scaled to unit length.
    pub normalize: bool,
    /// Token count at which input is truncated, special tokens included.
    pub max_seq_length: usize,
    /// Lowercase text before tokenizing.
    pub do_lower_case: bool,
    /// `tokenizer.json`.
    pub tokenizer_path: PathBuf,
    /// `model.safetensors`.
    pub weights_path: PathBuf,
}

impl ModelLayout {
    /// Reads and checks the configuration files of a sentence-transformers model directory.
    pub fn read(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(EmbedError::MissingFile {
                path: dir.to_path_buf(),
                hint: "expected a model directory with config.json, tokenizer.json and \
                       model.safetensors"
                    .into(),
            });
        }
        let bert: BertConfig = read_json(&dir.join("config.json"), "the transformer's config")?;
        check_architecture(&bert, &dir.join("config.json"))?;

        let modules_path = dir.join("modules.json");
        let (pooling_dir, normalize) = if modules_path.is_file() {
            let modules: Vec<ModuleEntry> = read_json(&modules_path, "the module list")?;
            read_modules(&modules, &modules_path)?
        } else {
            (None, false)
        };
        let pooling = match pooling_dir {
            Some(sub) => {
                let path = dir.join(sub).join("config.json");
                let pooling: PoolingConfig = read_json(&path, "the pooling settings")?;
                check_pooling(&pooling, &bert, &path)?;
                pooling
            }
            None => PoolingConfig::mean(bert.hidden_size),
        };

        let sbert_path = dir.join("sentence_bert_config.json");
        let sbert = if sbert_path.is_file() {
            Some(read_json::<SentenceBertConfig>(&sbert_path, "")?)
        } else {
            None
        };
        let tokenizer_max = read_tokenizer_max_length(dir);
        // sentence-transformers: the configured max_seq_length wins; without one it is the
        // smaller of the position table and the tokenizer's model_max_length.
        let max_seq_length = sbert
            .as_ref()
            .and_then(|s| s.max_seq_length)
            .unwrap_or_else(|| {
                tokenizer_max.map_or(bert.max_position_embeddings, |t| {
                    t.min(bert.max_position_embeddings)
                })
            })
            .min(bert.max_position_embeddings);
        let do_lower_case = sbert.as_ref().is_some_and(|s| s.do_lower_case);

        let tokenizer_path = require_file(dir, "tokenizer.json", "the fast tokenizer definition")?;
        let weights_path = require_file(
            dir,
            "model.safetensors",
            "the weights in safetensors format (convert a pytorch_model.bin with \
             `safetensors.torch.save_file`)",
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            bert,
            pooling,
            normalize,
            max_seq_length,
            do_lower_case,
            tokenizer_path,
            weights_path,
        })
    }

    /// Width of the sentence vectors this model produces.
    pub fn dim(&self) -> usize {
        self.bert.hidden_size * self.pooling.mode_count()
    }
}

fn require_file(dir: &Path, name: &str, what: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(EmbedError::MissingFile {
            path,
            hint: format!("it holds {what}"),
        })
    }
}

fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            EmbedError::MissingFile {
                path: path.to_path_buf(),
                hint: format!("it holds {what}"),
            }
        } else {
            EmbedError::MalformedFile {
                path: path.to_path_buf(),
                reason: err.to_string(),
            }
        }
    })?;
    serde_json::from_str(&text).map_err(|err| EmbedError::MalformedFile {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })
}

fn read_tokenizer_max_length(dir: &Path) -> Option<usize> {
    #[derive(Deserialize)]
    struct TokenizerConfig {
        model_max_length: Option<f64>,
    }
    let text = std::fs::read_to_string(dir.join("tokenizer_config.json")).ok()?;
    let config: TokenizerConfig = serde_json::from_str(&text).ok()?;
    // transformers writes a huge sentinel (1e30) when the tokenizer sets no limit.
    config
        .model_max_length
        .filter(|len| *len > 0.0 && *len < 1e9)
        .map(|len| len as usize)
}

fn check_architecture(bert: &BertConfig, path: &Path) -> Result<()> {
    let model_type = bert.model_type.as_deref().unwrap_or("bert");
    if !SUPPORTED_MODEL_TYPES.contains(&model_type) {
        return Err(EmbedError::Unsupported {
            found: format!("model_type {model_type:?} in {}", path.display()),
            supported: format!("model_type {}", SUPPORTED_MODEL_TYPES.join(", ")),
        });
    }
    if let Some(kind) = bert.position_embedding_type.as_deref()
        && kind != "absolute"
    {
        return Err(EmbedError::Unsupported {
            found: format!("position_embedding_type {kind:?} in {}", path.display()),
            supported: "position_embedding_type \"absolute\"".into(),
        });
    }
    if bert.num_attention_heads == 0 || !bert.hidden_size.is_multiple_of(bert.num_attention_heads) {
        return Err(EmbedError::MalformedFile {
            path: path.to_path_buf(),
            reason: format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                bert.hidden_size, bert.num_attention_heads
            ),
        });
    }
    Ok(())
}

/// Returns the pooling module's folder and whether a Normalize module follows.
fn read_modules(modules: &[ModuleEntry], path: &Path) -> Result<(Option<String>, bool)> {
    let mut pooling = None;
    let mut normalize = false;
    for (index, module) in modules.iter().enumerate() {
        let name = module.kind.rsplit('.').next().unwrap_or(&module.kind);
        match (index, name) {
            (0, "Transformer") => {}
            (_, "Pooling") if pooling.is_none() => pooling = Some(module.path.clone()),
            (_, "Normalize") => normalize = true,
            _ => {
                return Err(EmbedError::Unsupported {
                    found: format!(
                        "module {} at position {index} in {}",
                        module.kind,
                        path.display()
                    ),
                    supported: "Transformer, then Pooling, then optionally Normalize".into(),
                });
            }
        }
    }
    Ok((pooling, normalize))
}

fn check_pooling(pooling: &PoolingConfig, bert: &BertConfig, path: &Path) -> Result<()> {
    if pooling.pooling_mode_weightedmean_tokens || pooling.pooling_mode_lasttoken {
        return Err(EmbedError::Unsupported {
            found: format!("weighted-mean or last-token pooling in {}", path.display()),
            supported: "cls, mean, max and mean_sqrt_len pooling".into(),
        });
    }
    if pooling.mode_count() == 0 {
        return Err(EmbedError::MalformedFile {
            path: path.to_path_buf(),
            reason: "no pooling mode is enabled".into(),
        });
    }
    if pooling.word_embedding_dimension != bert.hidden_size {
        return Err(EmbedError::MalformedFile {
            path: path.to_path_buf(),
            reason: format!(
                "word_embedding_dimension {} differs from the model's hidden_size {}",
                pooling.word_embedding_dimension, bert.hidden_size
            ),
        });
    }
    Ok(())
}
