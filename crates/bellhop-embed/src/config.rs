//! The files of a sentence-transformers model directory, parsed into plain structs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{EmbedError, Result};

/// Model types whose weights and forward pass this engine implements.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &[
    "bert",
    "roberta",
    "xlm-roberta",
    "distilbert",
    "mpnet",
    "gemma3_text",
];

/// The activation functions a transformer's feed-forward layer may use.
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

/// `config.json` of an MPNet model: BERT's fields (MPNet has no token types; the count is
/// unused) and its relative position bias.
#[derive(Debug, Clone, Deserialize)]
pub struct MpnetConfig {
    /// The fields it shares with BERT.
    #[serde(flatten)]
    pub layers: BertConfig,
    /// Buckets of the relative position bias.
    #[serde(default = "default_relative_attention_num_buckets")]
    pub relative_attention_num_buckets: usize,
    /// The padding token's id; positions count from the one after it.
    #[serde(default = "default_mpnet_pad_token_id")]
    pub pad_token_id: u32,
}

/// `config.json` of a RoBERTa or XLM-RoBERTa model: BERT's fields, and the padding id its
/// positions count from.
#[derive(Debug, Clone, Deserialize)]
pub struct RobertaConfig {
    /// The fields it shares with BERT.
    #[serde(flatten)]
    pub layers: BertConfig,
    /// The padding token's id; positions count from the one after it.
    #[serde(default = "default_mpnet_pad_token_id")]
    pub pad_token_id: u32,
}

/// `config.json` of a DistilBERT model, in its own field names.
#[derive(Debug, Clone, Deserialize)]
struct DistilBertConfig {
    vocab_size: usize,
    dim: usize,
    n_layers: usize,
    n_heads: usize,
    hidden_dim: usize,
    #[serde(default = "default_hidden_act")]
    activation: HiddenAct,
    max_position_embeddings: usize,
}

impl DistilBertConfig {
    /// The same layers in BERT's terms: DistilBERT has no token types, and every layer norm
    /// of its reference implementation has an epsilon of 1e-12.
    fn as_bert(&self) -> BertConfig {
        BertConfig {
            model_type: Some("distilbert".into()),
            vocab_size: self.vocab_size,
            hidden_size: self.dim,
            num_hidden_layers: self.n_layers,
            num_attention_heads: self.n_heads,
            intermediate_size: self.hidden_dim,
            hidden_act: self.activation,
            max_position_embeddings: self.max_position_embeddings,
            type_vocab_size: 0,
            layer_norm_eps: 1e-12,
            position_embedding_type: None,
        }
    }
}

fn default_relative_attention_num_buckets() -> usize {
    32
}

fn default_mpnet_pad_token_id() -> u32 {
    1
}

/// `config.json` of a Gemma 3 text model (`gemma3_text`) used as a bidirectional encoder, as
/// EmbeddingGemma is: the subset of fields the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Gemma3Config {
    /// Size of the token vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Width of the gated feed-forward layer.
    pub intermediate_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Number of query heads per layer.
    pub num_attention_heads: usize,
    /// Number of key/value heads per layer (grouped-query attention).
    pub num_key_value_heads: usize,
    /// Width of every attention head.
    pub head_dim: usize,
    /// Activation of the feed-forward gate.
    #[serde(default = "default_gemma_act")]
    pub hidden_activation: HiddenAct,
    /// Epsilon of every RMS norm.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// Rotary base of the full-attention layers.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// Rotary base of the sliding-window layers.
    #[serde(default = "default_rope_local_base_freq")]
    pub rope_local_base_freq: f64,
    /// Attention scores are scaled by `query_pre_attn_scalar^-0.5`.
    pub query_pre_attn_scalar: f64,
    /// Window of the sliding-attention layers, as the config writes it.
    pub sliding_window: usize,
    /// Attention kind of every layer; derived from `_sliding_window_pattern` when absent.
    #[serde(default)]
    pub layer_types: Option<Vec<LayerType>>,
    /// Every sixth layer attends fully unless `layer_types` says otherwise.
    #[serde(
        default = "default_sliding_window_pattern",
        rename = "_sliding_window_pattern"
    )]
    pub sliding_window_pattern: usize,
    /// Longest sequence the rotary tables cover.
    pub max_position_embeddings: usize,
    /// Only bidirectional (encoder) attention is implemented.
    #[serde(default)]
    pub use_bidirectional_attention: bool,
    /// Tanh soft-capping of attention scores (not implemented).
    #[serde(default)]
    pub attn_logit_softcapping: Option<f64>,
    /// Rotary scaling (not implemented).
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// Biases on the attention projections (not implemented).
    #[serde(default)]
    pub attention_bias: bool,
}

/// The attention kind of one Gemma 3 layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerType {
    /// Each token attends to the tokens within the window around it.
    SlidingAttention,
    /// Each token attends to the whole sequence.
    FullAttention,
}

impl Gemma3Config {
    /// The attention kind of every layer, in order.
    pub fn layer_types(&self) -> Vec<LayerType> {
        match &self.layer_types {
            Some(types) => types.clone(),
            None => (0..self.num_hidden_layers)
                .map(|index| {
                    if (index + 1) % self.sliding_window_pattern.max(1) == 0 {
                        LayerType::FullAttention
                    } else {
                        LayerType::SlidingAttention
                    }
                })
                .collect(),
        }
    }

    /// The largest distance between two tokens of a sliding layer that still see each other.
    ///
    /// transformers halves the configured window for bidirectional attention
    /// (`sliding_window // 2 + 1`, exclusive), so that a window of 512 spans 256 tokens to
    /// each side.
    pub fn sliding_reach(&self) -> usize {
        self.sliding_window / 2
    }
}

fn default_gemma_act() -> HiddenAct {
    HiddenAct::GeluNew
}

fn default_rms_norm_eps() -> f64 {
    1e-6
}

fn default_rope_theta() -> f64 {
    1_000_000.0
}

fn default_rope_local_base_freq() -> f64 {
    10_000.0
}

fn default_sliding_window_pattern() -> usize {
    6
}

/// The transformer of a model directory, by `model_type`.
#[derive(Debug, Clone)]
pub enum EncoderConfig {
    /// A BERT encoder (`bert`).
    Bert(BertConfig),
    /// A RoBERTa or XLM-RoBERTa encoder: BERT's layers under other names, positions counted
    /// from after the padding id.
    Roberta(RobertaConfig),
    /// A DistilBERT encoder: BERT's layers under other names, no token types.
    DistilBert(BertConfig),
    /// An MPNet encoder (`mpnet`).
    Mpnet(MpnetConfig),
    /// A Gemma 3 text model with bidirectional attention (`gemma3_text`).
    Gemma3(Gemma3Config),
}

impl EncoderConfig {
    /// Width of the token vectors the encoder returns.
    pub fn hidden_size(&self) -> usize {
        match self {
            Self::Bert(cfg) | Self::DistilBert(cfg) => cfg.hidden_size,
            Self::Roberta(cfg) => cfg.layers.hidden_size,
            Self::Mpnet(cfg) => cfg.layers.hidden_size,
            Self::Gemma3(cfg) => cfg.hidden_size,
        }
    }

    /// Longest sequence the encoder's positions cover.
    pub fn max_position_embeddings(&self) -> usize {
        match self {
            Self::Bert(cfg) | Self::DistilBert(cfg) => cfg.max_position_embeddings,
            // Positions start after the padding id.
            Self::Roberta(cfg) => cfg
                .layers
                .max_position_embeddings
                .saturating_sub(cfg.pad_token_id as usize + 1),
            Self::Mpnet(cfg) => cfg
                .layers
                .max_position_embeddings
                .saturating_sub(cfg.pad_token_id as usize + 1),
            Self::Gemma3(cfg) => cfg.max_position_embeddings,
        }
    }

    /// Reads `config.json` and checks that this engine runs the architecture it declares.
    fn read(path: &Path) -> Result<Self> {
        let value: serde_json::Value = read_json(path, "the transformer's config")?;
        let model_type = value
            .get("model_type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("bert")
            .to_string();
        let malformed = |err: serde_json::Error| EmbedError::MalformedFile {
            path: path.to_path_buf(),
            reason: err.to_string(),
        };
        match model_type.as_str() {
            "bert" => {
                let cfg: BertConfig = serde_json::from_value(value).map_err(malformed)?;
                check_bert(&cfg, path)?;
                Ok(Self::Bert(cfg))
            }
            "roberta" | "xlm-roberta" => {
                let cfg: RobertaConfig = serde_json::from_value(value).map_err(malformed)?;
                check_bert(&cfg.layers, path)?;
                Ok(Self::Roberta(cfg))
            }
            "distilbert" => {
                let cfg: DistilBertConfig = serde_json::from_value(value).map_err(malformed)?;
                let cfg = cfg.as_bert();
                check_bert(&cfg, path)?;
                Ok(Self::DistilBert(cfg))
            }
            "mpnet" => {
                let cfg: MpnetConfig = serde_json::from_value(value).map_err(malformed)?;
                check_bert(&cfg.layers, path)?;
                if cfg.relative_attention_num_buckets < 4 {
                    return Err(EmbedError::MalformedFile {
                        path: path.to_path_buf(),
                        reason: format!(
                            "relative_attention_num_buckets {} is under 4",
                            cfg.relative_attention_num_buckets
                        ),
                    });
                }
                Ok(Self::Mpnet(cfg))
            }
            "gemma3_text" => {
                let cfg: Gemma3Config = serde_json::from_value(value).map_err(malformed)?;
                check_gemma3(&cfg, path)?;
                Ok(Self::Gemma3(cfg))
            }
            other => Err(EmbedError::Unsupported {
                found: format!("model_type {other:?} in {}", path.display()),
                supported: format!("model_type {}", SUPPORTED_MODEL_TYPES.join(", ")),
            }),
        }
    }
}

/// The activation after a Dense module's linear layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseActivation {
    /// `torch.nn.Identity`: none.
    Identity,
    /// `torch.nn.Tanh`, sentence-transformers' default.
    Tanh,
}

/// `config.json` of a sentence-transformers `Dense` module.
#[derive(Debug, Clone, Deserialize)]
struct DenseFile {
    in_features: usize,
    out_features: usize,
    #[serde(default = "default_true")]
    bias: bool,
    #[serde(default = "default_dense_activation")]
    activation_function: String,
}

fn default_true() -> bool {
    true
}

fn default_dense_activation() -> String {
    "torch.nn.modules.activation.Tanh".into()
}

/// A `Dense` module after pooling: `activation(x W^T + b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenseLayout {
    /// Input width.
    pub in_features: usize,
    /// Output width.
    pub out_features: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
    /// Applied after the linear layer.
    pub activation: DenseActivation,
    /// The module's `model.safetensors`.
    pub weights_path: PathBuf,
}

impl DenseLayout {
    fn read(dir: &Path, in_features: usize) -> Result<Self> {
        let path = dir.join("config.json");
        let file: DenseFile = read_json(&path, "a Dense module's settings")?;
        let activation = match file.activation_function.rsplit('.').next() {
            Some("Identity") => DenseActivation::Identity,
            Some("Tanh") => DenseActivation::Tanh,
            _ => {
                return Err(EmbedError::Unsupported {
                    found: format!(
                        "activation_function {:?} in {}",
                        file.activation_function,
                        path.display()
                    ),
                    supported: "torch.nn.Identity and torch.nn.Tanh".into(),
                });
            }
        };
        if file.in_features != in_features {
            return Err(EmbedError::MalformedFile {
                path,
                reason: format!(
                    "in_features {} differs from the {in_features} values the module before it \
                     produces",
                    file.in_features
                ),
            });
        }
        Ok(Self {
            in_features: file.in_features,
            out_features: file.out_features,
            bias: file.bias,
            activation,
            weights_path: require_file(dir, "model.safetensors", "a Dense module's weights")?,
        })
    }
}

/// `config_sentence_transformers.json`: the named prompts.
#[derive(Debug, Clone, Default, Deserialize)]
struct SentenceTransformersFile {
    #[serde(default)]
    prompts: BTreeMap<String, String>,
    #[serde(default)]
    default_prompt_name: Option<String>,
}

/// How token vectors become one sentence vector (`1_Pooling/config.json`), in either of
/// sentence-transformers' layouts: one `pooling_mode_*` flag per mode (up to 5), or
/// `embedding_dimension` with `pooling_mode` naming the modes (from 6).
///
/// When several modes are on, their outputs are concatenated in sentence-transformers' order:
/// CLS, max, mean, mean-sqrt-len.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "PoolingFile")]
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
    /// Whether the prompt's tokens are pooled too (only `true` is implemented).
    #[serde(default = "default_true")]
    pub include_prompt: bool,
}

/// `pooling_mode` of sentence-transformers 6: one mode or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum PoolingModes {
    One(String),
    Several(Vec<String>),
}

/// `1_Pooling/config.json` as written, in either layout.
#[derive(Debug, Clone, Deserialize)]
struct PoolingFile {
    #[serde(alias = "embedding_dimension")]
    word_embedding_dimension: usize,
    #[serde(default)]
    pooling_mode: Option<PoolingModes>,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default = "default_true")]
    include_prompt: bool,
}

/// sentence-transformers 6's mode names, in the order the flags of earlier versions
/// concatenate them.
const POOLING_MODE_ORDER: &[&str] = &["cls", "max", "mean", "mean_sqrt_len_tokens"];

impl TryFrom<PoolingFile> for PoolingConfig {
    type Error = String;

    fn try_from(file: PoolingFile) -> std::result::Result<Self, String> {
        let mut config = Self {
            word_embedding_dimension: file.word_embedding_dimension,
            pooling_mode_cls_token: file.pooling_mode_cls_token,
            pooling_mode_mean_tokens: file.pooling_mode_mean_tokens,
            pooling_mode_max_tokens: file.pooling_mode_max_tokens,
            pooling_mode_mean_sqrt_len_tokens: file.pooling_mode_mean_sqrt_len_tokens,
            pooling_mode_weightedmean_tokens: file.pooling_mode_weightedmean_tokens,
            pooling_mode_lasttoken: file.pooling_mode_lasttoken,
            include_prompt: file.include_prompt,
        };
        let Some(modes) = file.pooling_mode else {
            return Ok(config);
        };
        let modes = match modes {
            PoolingModes::One(mode) => vec![mode],
            PoolingModes::Several(modes) => modes,
        };
        // The output concatenates the modes in the order named; only the order of the
        // flags' era is implemented.
        let positions: Vec<Option<usize>> = modes
            .iter()
            .map(|mode| POOLING_MODE_ORDER.iter().position(|known| known == mode))
            .collect();
        if positions.windows(2).any(|pair| match (pair[0], pair[1]) {
            (Some(a), Some(b)) => a >= b,
            _ => false,
        }) {
            return Err(format!(
                "pooling_mode {modes:?}: modes are implemented concatenated in the order {POOLING_MODE_ORDER:?}"
            ));
        }
        for mode in &modes {
            match mode.as_str() {
                "cls" => config.pooling_mode_cls_token = true,
                "max" => config.pooling_mode_max_tokens = true,
                "mean" => config.pooling_mode_mean_tokens = true,
                "mean_sqrt_len_tokens" => config.pooling_mode_mean_sqrt_len_tokens = true,
                "weightedmean" => config.pooling_mode_weightedmean_tokens = true,
                "lasttoken" => config.pooling_mode_lasttoken = true,
                other => return Err(format!("unknown pooling_mode {other:?}")),
            }
        }
        Ok(config)
    }
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
            include_prompt: true,
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
    pub encoder: EncoderConfig,
    /// How token vectors are pooled.
    pub pooling: PoolingConfig,
    /// Dense modules applied to the pooled vector, in order.
    pub dense: Vec<DenseLayout>,
    /// Whether sentence vectors are scaled to unit length.
    pub normalize: bool,
    /// Token count at which input is truncated, special tokens included.
    pub max_seq_length: usize,
    /// Lowercase text before tokenizing.
    pub do_lower_case: bool,
    /// Named prompts prepended to texts (`config_sentence_transformers.json`).
    pub prompts: BTreeMap<String, String>,
    /// The prompt applied when none is named.
    pub default_prompt_name: Option<String>,
    /// `tokenizer.json`.
    pub tokenizer_path: PathBuf,
    /// `model.safetensors`.
    pub weights_path: PathBuf,
    /// The shorter sizes the model was trained to be cut to (Matryoshka), largest first, as
    /// its model card lists them; empty when it was not.
    pub matryoshka_dimensions: Vec<usize>,
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
        let encoder = EncoderConfig::read(&dir.join("config.json"))?;
        let hidden = encoder.hidden_size();

        let modules_path = dir.join("modules.json");
        let modules = if modules_path.is_file() {
            let modules: Vec<ModuleEntry> = read_json(&modules_path, "the module list")?;
            read_modules(&modules, &modules_path)?
        } else {
            Modules::default()
        };
        let pooling = match &modules.pooling {
            Some(sub) => {
                let path = dir.join(sub).join("config.json");
                let pooling: PoolingConfig = read_json(&path, "the pooling settings")?;
                check_pooling(&pooling, hidden, &path)?;
                pooling
            }
            None => PoolingConfig::mean(hidden),
        };
        let mut width = hidden * pooling.mode_count();
        let mut dense = Vec::with_capacity(modules.dense.len());
        for sub in &modules.dense {
            let layer = DenseLayout::read(&dir.join(sub), width)?;
            width = layer.out_features;
            dense.push(layer);
        }

        let sbert_path = dir.join("sentence_bert_config.json");
        let sbert = if sbert_path.is_file() {
            Some(read_json::<SentenceBertConfig>(&sbert_path, "")?)
        } else {
            None
        };
        let positions = encoder.max_position_embeddings();
        let tokenizer_max = read_tokenizer_max_length(dir);
        // sentence-transformers: the configured max_seq_length wins; without one it is the
        // smaller of the position table and the tokenizer's model_max_length.
        let max_seq_length = sbert
            .as_ref()
            .and_then(|s| s.max_seq_length)
            .unwrap_or_else(|| tokenizer_max.map_or(positions, |t| t.min(positions)))
            .min(positions);
        let do_lower_case = sbert.as_ref().is_some_and(|s| s.do_lower_case);

        let st_path = dir.join("config_sentence_transformers.json");
        let st = if st_path.is_file() {
            read_json::<SentenceTransformersFile>(&st_path, "")?
        } else {
            SentenceTransformersFile::default()
        };
        if let Some(name) = &st.default_prompt_name
            && !st.prompts.contains_key(name)
        {
            return Err(EmbedError::MalformedFile {
                path: st_path,
                reason: format!("default_prompt_name {name:?} is not one of the prompts"),
            });
        }

        let tokenizer_path = require_file(dir, "tokenizer.json", "the fast tokenizer definition")?;
        let weights_path = require_file(
            dir,
            "model.safetensors",
            "the weights in safetensors format (convert a pytorch_model.bin with \
             `safetensors.torch.save_file`)",
        )?;
        let dim = dense
            .last()
            .map_or(hidden * pooling.mode_count(), |layer| layer.out_features);
        // The card is documentation: one that is missing or unreadable only means no shorter
        // sizes are known.
        let matryoshka_dimensions = std::fs::read_to_string(dir.join("README.md"))
            .map(|card| crate::matryoshka::card_dimensions(&card, dim))
            .unwrap_or_default();
        Ok(Self {
            dir: dir.to_path_buf(),
            encoder,
            pooling,
            dense,
            normalize: modules.normalize,
            max_seq_length,
            do_lower_case,
            prompts: st.prompts,
            default_prompt_name: st.default_prompt_name,
            tokenizer_path,
            weights_path,
            matryoshka_dimensions,
        })
    }

    /// Width of the pooled vectors, before any Dense module.
    pub fn pooled_dim(&self) -> usize {
        self.encoder.hidden_size() * self.pooling.mode_count()
    }

    /// Width of the sentence vectors this model produces.
    pub fn dim(&self) -> usize {
        self.dense
            .last()
            .map_or_else(|| self.pooled_dim(), |layer| layer.out_features)
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

fn check_bert(bert: &BertConfig, path: &Path) -> Result<()> {
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

fn check_gemma3(cfg: &Gemma3Config, path: &Path) -> Result<()> {
    let unsupported = |found: &str, supported: &str| EmbedError::Unsupported {
        found: format!("{found} in {}", path.display()),
        supported: supported.into(),
    };
    if !cfg.use_bidirectional_attention {
        return Err(unsupported(
            "gemma3_text with causal attention",
            "use_bidirectional_attention true (an encoder such as EmbeddingGemma)",
        ));
    }
    if cfg.attn_logit_softcapping.is_some() {
        return Err(unsupported("attn_logit_softcapping", "no soft-capping"));
    }
    if cfg.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(unsupported("rope_scaling", "rope_scaling null"));
    }
    if cfg.attention_bias {
        return Err(unsupported("attention_bias true", "attention_bias false"));
    }
    let malformed = |reason: String| EmbedError::MalformedFile {
        path: path.to_path_buf(),
        reason,
    };
    if cfg.num_key_value_heads == 0
        || !cfg
            .num_attention_heads
            .is_multiple_of(cfg.num_key_value_heads)
    {
        return Err(malformed(format!(
            "num_attention_heads {} is not a multiple of num_key_value_heads {}",
            cfg.num_attention_heads, cfg.num_key_value_heads
        )));
    }
    if cfg.head_dim == 0 || !cfg.head_dim.is_multiple_of(2) {
        return Err(malformed(format!("head_dim {} is not even", cfg.head_dim)));
    }
    let layers = cfg.layer_types().len();
    if layers != cfg.num_hidden_layers {
        return Err(malformed(format!(
            "layer_types lists {layers} layers, num_hidden_layers is {}",
            cfg.num_hidden_layers
        )));
    }
    Ok(())
}

/// The modules after the transformer, as `modules.json` lists them.
#[derive(Debug, Default)]
struct Modules {
    /// The pooling module's folder.
    pooling: Option<String>,
    /// The Dense modules' folders, in order.
    dense: Vec<String>,
    /// Whether a Normalize module comes last.
    normalize: bool,
}

/// Checks the module order sentence-transformers models use: Transformer, Pooling, any Dense
/// modules, optionally Normalize.
fn read_modules(modules: &[ModuleEntry], path: &Path) -> Result<Modules> {
    let mut found = Modules::default();
    for (index, module) in modules.iter().enumerate() {
        let name = module.kind.rsplit('.').next().unwrap_or(&module.kind);
        match (index, name) {
            (0, "Transformer") => {}
            (_, "Pooling") if found.pooling.is_none() && found.dense.is_empty() => {
                found.pooling = Some(module.path.clone());
            }
            (_, "Dense") if found.pooling.is_some() && !found.normalize => {
                found.dense.push(module.path.clone());
            }
            (_, "Normalize") => found.normalize = true,
            _ => {
                return Err(EmbedError::Unsupported {
                    found: format!(
                        "module {} at position {index} in {}",
                        module.kind,
                        path.display()
                    ),
                    supported: "Transformer, then Pooling, then any Dense modules, then \
                                optionally Normalize"
                        .into(),
                });
            }
        }
    }
    Ok(found)
}

fn check_pooling(pooling: &PoolingConfig, hidden: usize, path: &Path) -> Result<()> {
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
    if !pooling.include_prompt {
        return Err(EmbedError::Unsupported {
            found: format!("include_prompt false in {}", path.display()),
            supported: "pooling that includes the prompt's tokens".into(),
        });
    }
    if pooling.word_embedding_dimension != hidden {
        return Err(EmbedError::MalformedFile {
            path: path.to_path_buf(),
            reason: format!(
                "word_embedding_dimension {} differs from the model's hidden_size {hidden}",
                pooling.word_embedding_dimension
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PoolingConfig;

    fn parse(json: &str) -> Result<PoolingConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn both_pooling_layouts_read_the_same() {
        let flags = parse(
            r#"{"word_embedding_dimension": 8, "pooling_mode_cls_token": true,
                "pooling_mode_mean_tokens": true}"#,
        )
        .unwrap();
        let named =
            parse(r#"{"embedding_dimension": 8, "pooling_mode": ["cls", "mean"]}"#).unwrap();
        assert_eq!(flags, named);
        assert_eq!(named.mode_count(), 2);
        let mean = parse(r#"{"embedding_dimension": 8, "pooling_mode": "mean"}"#).unwrap();
        assert_eq!(mean, PoolingConfig::mean(8));
    }

    #[test]
    fn pooling_modes_in_another_order_or_unknown_are_refused() {
        let reordered = parse(r#"{"embedding_dimension": 8, "pooling_mode": ["mean", "cls"]}"#)
            .unwrap_err()
            .to_string();
        assert!(reordered.contains("in the order"), "{reordered}");
        let unknown = parse(r#"{"embedding_dimension": 8, "pooling_mode": "median"}"#)
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("median"), "{unknown}");
    }
}
