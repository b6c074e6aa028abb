//! The generation settings, conversation and deadline that `/ask` and
//! `/v1/chat/completions` share, checked against the server's limits.

use std::time::Duration;

use bellhop_answer::AskOptions;
use bellhop_generate::{ChatMessage, Sampling};

use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::search::Stop;

/// Generation settings shared by `/ask` and `/v1/chat/completions`.
#[derive(Debug, Default)]
pub(crate) struct GenerationParams {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<u64>,
    pub stop: Option<Stop>,
}

/// Most stop sequences, as OpenAI allows.
const MAX_STOPS: usize = 4;
/// Most tokens a request may ask a model to write.
pub(crate) const MAX_TOKENS: usize = 4096;
/// Longest deadline a request may ask for.
const MAX_DEADLINE_MS: u64 = 300_000;
/// Most earlier messages a request may carry.
const MAX_MESSAGES: usize = 64;

impl GenerationParams {
    /// Checks the settings and fills `options` with them.
    pub fn apply(&self, state: &AppState, options: &mut AskOptions) -> Result<(), ApiError> {
        let max_tokens = self.max_tokens.unwrap_or(state.config.llm.max_tokens);
        if max_tokens == 0 || max_tokens > MAX_TOKENS {
            return Err(ApiError::invalid(format!(
                "max_tokens must be between 1 and {MAX_TOKENS}"
            )));
        }
        options.max_tokens = max_tokens;
        let mut sampling = Sampling::default();
        if let Some(temperature) = self.temperature {
            if !(0.0..=2.0).contains(&temperature) {
                return Err(ApiError::invalid("temperature must be between 0 and 2"));
            }
            sampling.temperature = temperature;
        }
        if let Some(top_p) = self.top_p {
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(ApiError::invalid("top_p must be above 0 and at most 1"));
            }
            sampling.top_p = Some(top_p);
        }
        if let Some(seed) = self.seed {
            sampling.seed = seed;
        }
        options.sampling = sampling;
        options.stop = match &self.stop {
            None => Vec::new(),
            Some(stop) => {
                let stops = stop.clone().into_vec();
                if stops.len() > MAX_STOPS {
                    return Err(ApiError::invalid(format!(
                        "stop must be a string or an array of at most {MAX_STOPS} strings"
                    )));
                }
                stops
            }
        };
        Ok(())
    }
}

/// Checks a conversation's earlier messages.
pub(crate) fn check_history(state: &AppState, messages: &[ChatMessage]) -> Result<(), ApiError> {
    if messages.len() > MAX_MESSAGES {
        return Err(ApiError::invalid(format!(
            "at most {MAX_MESSAGES} messages are accepted"
        )));
    }
    let max = state.config.limits.max_text_chars;
    if messages
        .iter()
        .any(|message| message.content.chars().count() > max)
    {
        return Err(ApiError::invalid(format!(
            "a message is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Checks a requested deadline: it must end before the request times out, so that the
/// answer (degraded if the model is late) always arrives.
pub(crate) fn check_deadline(
    state: &AppState,
    deadline_ms: Option<u64>,
) -> Result<Option<Duration>, ApiError> {
    let max = (state.config.limits.max_answer_deadline().as_millis() as u64).min(MAX_DEADLINE_MS);
    match deadline_ms {
        None => Ok(None),
        Some(ms) if (1..=max).contains(&ms) => Ok(Some(Duration::from_millis(ms))),
        Some(_) => Err(ApiError::invalid(format!(
            "deadline_ms must be between 1 and {max} (this server's request timeout is {} ms)",
            state.config.limits.request_timeout_ms
        ))),
    }
}
