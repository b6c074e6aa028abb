//! The BPE tokenizer of a GGUF chat model, built from the vocabulary and merges in its metadata.
//!
//! GGUF files carry their tokenizer as metadata (`tokenizer.ggml.*`) rather than as a
//! `tokenizer.json`; this rebuilds the same byte-level BPE with the `tokenizers` crate so that
//! prompts tokenize exactly as the model was trained.

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::error::{GenerateError, Result};

/// `tokenizer.ggml.token_type` of tokens the tokenizer must match whole: control tokens
/// (`<|im_start|>`) and user-defined ones (`<tool_call>`).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Pre-tokenizer regexes by `tokenizer.ggml.pre`, as in each model's own `tokenizer.json`.
fn split_pattern(pre: &str) -> &'static str {
    match pre {
        "qwen2" | "deepseek-r1-qwen" => {
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
        }
        "llama-bpe" | "llama3" | "smaug-bpe" => {
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
        }
        // GPT-2's own pattern, the default of byte-level BPE.
        _ => r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    }
}

fn metadata<'a>(content: &'a Content, key: &str) -> Result<&'a Value> {
    content
        .metadata
        .get(key)
        .ok_or_else(|| GenerateError::Tokenizer(format!("the model has no {key}")))
}

fn strings(value: &Value, key: &str) -> Result<Vec<String>> {
    value
        .to_vec()
        .map_err(|err| GenerateError::Tokenizer(format!("{key}: {err}")))?
        .iter()
        .map(|item| {
            item.to_string()
                .cloned()
                .map_err(|err| GenerateError::Tokenizer(format!("{key}: {err}")))
        })
        .collect()
}

/// Builds the tokenizer described by a GGUF file's metadata. Only byte-level BPE
/// (`tokenizer.ggml.model = gpt2`, used by Qwen2 and Llama 3) is supported; other models need a
/// `tokenizer.json`.
pub fn tokenizer_from_gguf(content: &Content) -> Result<Tokenizer> {
    let model = metadata(content, "tokenizer.ggml.model")?
        .to_string()
        .map_err(|err| GenerateError::Tokenizer(err.to_string()))?;
    if model != "gpt2" {
        return Err(GenerateError::Tokenizer(format!(
            "tokenizer.ggml.model {model:?} is not byte-level BPE; pass a tokenizer.json"
        )));
    }
    let pre = content
        .metadata
        .get("tokenizer.ggml.pre")
        .and_then(|value| value.to_string().ok())
        .map_or("default", String::as_str);
    let tokens = strings(metadata(content, "tokenizer.ggml.tokens")?, "tokens")?;
    let merges = strings(metadata(content, "tokenizer.ggml.merges")?, "merges")?
        .into_iter()
        .map(|merge| {
            merge
                .split_once(' ')
                .map(|(left, right)| (left.to_string(), right.to_string()))
                .ok_or_else(|| GenerateError::Tokenizer(format!("malformed merge {merge:?}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let token_types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(value) => value
            .to_vec()
            .map_err(|err| GenerateError::Tokenizer(err.to_string()))?
            .iter()
            .map(|item| item.to_i32().unwrap_or(1))
            .collect(),
        None => vec![1; tokens.len()],
    };

    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|err| GenerateError::Tokenizer(err.to_string()))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let split = Split::new(
        SplitPattern::Regex(split_pattern(pre).to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(|err| GenerateError::Tokenizer(err.to_string()))?;
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        split.into(),
        ByteLevel::new(false, false, false).into(),
    ])));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

    let mut special = Vec::new();
    let mut user_defined = Vec::new();
    for (token, kind) in tokens.iter().zip(&token_types) {
        match *kind {
            TOKEN_TYPE_CONTROL => special.push(AddedToken::from(token.clone(), true)),
            TOKEN_TYPE_USER_DEFINED => user_defined.push(AddedToken::from(token.clone(), false)),
            _ => {}
        }
    }
    tokenizer
        .add_special_tokens(special)
        .map_err(|err| GenerateError::Tokenizer(err.to_string()))?;
    tokenizer
        .add_tokens(user_defined)
        .map_err(|err| GenerateError::Tokenizer(err.to_string()))?;
    Ok(tokenizer)
}
