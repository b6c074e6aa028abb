//! Answers written by a model from retrieved passages, within a deadline that always holds.
//!
//! The prompt numbers the retrieved chunks as sources (within a token budget) and asks the
//! model to answer only from them, citing `[n]`. If the model gives no first token within its
//! share of the deadline, fails, or is still writing when the deadline comes, the extractive
//! answer (computed from the same passages, no model) is returned instead, marked `degraded`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bellhop_generate::{
    ChatMessage, FinishReason, GenerationEvent, GenerationRequest, Generator, Role, Sampling,
    TokenStream, Usage,
};
use bellhop_store::Hit;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::answerability::Answerability;
use crate::extractive::{Answer, Citation, text_pieces};
use crate::grounding::{Grounding, checked_prefix};
use crate::language::detect_language;

/// Which generator writes an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorChoice {
    /// No model: the best matching sentences of the passages.
    Extractive,
    /// The in-process GGUF model.
    Local,
    /// The OpenAI-compatible upstreams.
    Openai,
}

impl GeneratorChoice {
    /// The name used in requests, responses and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Extractive => "extractive",
            Self::Local => "local",
            Self::Openai => "openai",
        }
    }
}

impl std::str::FromStr for GeneratorChoice {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "extractive" => Ok(Self::Extractive),
            "local" => Ok(Self::Local),
            "openai" => Ok(Self::Openai),
            other => Err(format!(
                "unknown generator {other:?}: expected extractive, local or openai"
            )),
        }
    }
}

/// The model generators a server has.
#[derive(Clone, Default)]
pub struct Generators {
    /// The in-process model, if one was loaded.
    pub local: Option<Arc<dyn Generator>>,
    /// The upstream pool, if upstreams were configured.
    pub openai: Option<Arc<dyn Generator>>,
}

impl Generators {
    /// The generator used when neither the request nor the collection names one: a model when
    /// one is configured (`local` first), else `extractive`.
    pub fn default_choice(&self) -> GeneratorChoice {
        if self.local.is_some() {
            GeneratorChoice::Local
        } else if self.openai.is_some() {
            GeneratorChoice::Openai
        } else {
            GeneratorChoice::Extractive
        }
    }

    /// The model behind `choice`, if configured (`None` for extractive).
    pub fn get(&self, choice: GeneratorChoice) -> Option<&Arc<dyn Generator>> {
        match choice {
            GeneratorChoice::Extractive => None,
            GeneratorChoice::Local => self.local.as_ref(),
            GeneratorChoice::Openai => self.openai.as_ref(),
        }
    }
}

/// Server-wide answering settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerPolicy {
    /// The deadline of a request that names none and whose collection sets none.
    pub default_deadline: Duration,
    /// The share of the deadline within which the model must produce its first token.
    pub first_token_share: f64,
    /// Most prompt tokens the sources may take.
    pub source_token_budget: usize,
    /// Most earlier messages of a conversation kept in the prompt.
    pub history_messages: usize,
    /// The longest deadline any answer is held to, whatever the request or the collection
    /// asks: a server's request timeout less the time to send the fallback, so that a guest
    /// gets the degraded answer rather than a timeout.
    pub max_deadline: Option<Duration>,
}

impl Default for AnswerPolicy {
    fn default() -> Self {
        Self {
            default_deadline: Duration::from_secs(10),
            first_token_share: 0.6,
            source_token_budget: 1024,
            history_messages: 6,
            max_deadline: None,
        }
    }
}

/// How one question is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct AskOptions {
    /// The generator; the collection's, then the server's default when `None`.
    pub generator: Option<GeneratorChoice>,
    /// The deadline; the collection's, then the server's default when `None`.
    pub deadline: Option<Duration>,
    /// The conversation before the question (user and assistant turns).
    pub history: Vec<ChatMessage>,
    /// Most tokens the model may write.
    pub max_tokens: usize,
    /// Token choice.
    pub sampling: Sampling,
    /// Strings that end the model's answer.
    pub stop: Vec<String>,
    /// Most sentences of an extractive answer.
    pub max_sentences: usize,
    /// Whether the caller shows text as it arrives. A streamed answer that fails midway goes
    /// on with the fallback after what was already shown; an unstreamed one is the fallback
    /// alone.
    pub streaming: bool,
}

impl Default for AskOptions {
    fn default() -> Self {
        Self {
            generator: None,
            deadline: None,
            history: Vec::new(),
            max_tokens: 256,
            sampling: Sampling::default(),
            stop: Vec::new(),
            max_sentences: 3,
            streaming: false,
        }
    }
}

/// Where the time of one answer went.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AskTimings {
    /// Embedding and search.
    pub retrieval_ms: f64,
    /// From the request to the model's first token (absent when no model answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<f64>,
    /// The whole request.
    pub total_ms: f64,
}

/// The finished answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AskOutcome {
    /// Text, citations, generator, token counts, degradation.
    pub answer: Arc<Answer>,
    /// Timings.
    pub timings: AskTimings,
    /// Whether the answer came from the cache.
    pub cached: bool,
    /// The deadline the answer was held to.
    pub deadline: Duration,
    /// Whether the sources were judged to answer the question, and on what evidence.
    pub answerability: Answerability,
    /// The question's language (ISO 639-1 where it has one), when it could be told.
    pub question_language: Option<String>,
}

/// What [`crate::AnswerEngine::ask`] gives: an answer that is already complete, or the
/// events of one a model is writing.
#[derive(Debug)]
pub enum AskReply {
    /// Complete: abstained, extractive or from the cache.
    Finished(Box<AskOutcome>),
    /// Being written: citations, text pieces, then done.
    Streaming(mpsc::Receiver<AskEvent>),
}

impl AskReply {
    /// Waits for the whole answer. Fails with the panic's text when the task writing it
    /// panicked, or with `None` when its events stopped before it was complete.
    pub async fn finished(self) -> Result<AskOutcome, Option<String>> {
        match self {
            Self::Finished(outcome) => Ok(*outcome),
            Self::Streaming(mut events) => {
                while let Some(event) = events.recv().await {
                    match event {
                        AskEvent::Done(outcome) => return Ok(*outcome),
                        AskEvent::Failed(panic) => return Err(Some(panic)),
                        AskEvent::Citations(_) | AskEvent::Delta(_) => {}
                    }
                }
                Err(None)
            }
        }
    }

    /// The answer as events; a complete one becomes its citations, its text in pieces of a
    /// few words, and done, as a model would have streamed it.
    pub fn into_events(self) -> mpsc::Receiver<AskEvent> {
        match self {
            Self::Streaming(events) => events,
            Self::Finished(outcome) => {
                let pieces = text_pieces(&outcome.answer.answer);
                let (sender, receiver) = mpsc::channel(pieces.len() + 2);
                // The channel holds every event, so none of these sends can wait or fail
                // for want of room.
                let _ = sender.try_send(AskEvent::Citations(outcome.answer.citations.clone()));
                for piece in pieces {
                    let _ = sender.try_send(AskEvent::Delta(piece));
                }
                let _ = sender.try_send(AskEvent::Done(outcome));
                receiver
            }
        }
    }
}

/// What an answer stream carries, in this order: citations once, text pieces, then done.
#[derive(Debug, Clone, PartialEq)]
pub enum AskEvent {
    /// The sources the answer may cite, by number.
    Citations(Vec<Citation>),
    /// The next piece of the answer's text.
    Delta(String),
    /// The answer is complete.
    Done(Box<AskOutcome>),
    /// The task writing the answer failed (it panicked): no `Done` follows. The text is the
    /// panic's, for the server's logs rather than the guest.
    Failed(String),
}

/// Counts of how model answers ended, by generator and outcome, for `/metrics`.
#[derive(Debug, Default)]
pub struct GenerationCounters {
    counts: Mutex<HashMap<(&'static str, &'static str), u64>>,
}

impl GenerationCounters {
    fn add(&self, generator: &'static str, outcome: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((generator, outcome))
            .or_default() += 1;
    }

    /// `(generator, outcome, count)`; outcomes are `answered`, `failed`,
    /// `first_token_timeout`, `deadline`, `interrupted` and `ungrounded`.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut rows: Vec<_> = self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(&(generator, outcome), &count)| (generator, outcome, count))
            .collect();
        rows.sort_unstable();
        rows
    }
}

/// Instructions that follow the collection's own system prompt.
const GROUNDING: &str = "Answer the question using only the numbered sources below. Cite the \
source of every fact with its number in square brackets, like [1]. Never state a price, time, \
number or name that the sources do not state. If the sources do not hold the answer, say so \
plainly instead of guessing. Answer in the language of the question. Be brief and friendly.";

/// The system prompt when a collection has none.
const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful assistant.";

/// Numbers the best hits as sources, as many as fit in `budget` tokens (at least one).
pub fn select_sources(hits: &[Hit], generator: &dyn Generator, budget: usize) -> Vec<Citation> {
    let mut used = 0;
    let mut sources = Vec::new();
    for hit in hits {
        let tokens = generator.count_tokens(&hit.text) + 8;
        if !sources.is_empty() && used + tokens > budget {
            break;
        }
        used += tokens;
        sources.push(Citation::from_hit(sources.len() + 1, hit));
    }
    sources
}

/// The conversation sent to the model: system prompt with the numbered sources, the recent
/// history, then the question.
pub fn grounded_messages(
    system_prompt: Option<&str>,
    sources: &[Citation],
    history: &[ChatMessage],
    question: &str,
) -> Vec<ChatMessage> {
    // The collection's fallback is not quoted here: a small model given its words answers
    // with them whatever the sources say.
    let mut system = format!(
        "{}\n\n{GROUNDING}\n\nSources:",
        system_prompt.unwrap_or(DEFAULT_SYSTEM_PROMPT).trim(),
    );
    if sources.is_empty() {
        system.push_str("\n(none were found)");
    }
    for source in sources {
        let mut heading = source.title.clone();
        if !source.section.is_empty() {
            heading.push_str(" — ");
            heading.push_str(&source.section.join(" > "));
        }
        system.push_str(&format!(
            "\n\n[{}] {}\n{}",
            source.index,
            heading.trim(),
            source.text.trim()
        ));
    }
    let mut messages = vec![ChatMessage::new(Role::System, system)];
    messages.extend(
        history
            .iter()
            .filter(|message| message.role != Role::System)
            .cloned(),
    );
    messages.push(ChatMessage::new(Role::User, question));
    messages
}

/// Everything a generation task needs.
pub(crate) struct Generation {
    pub generator: Arc<dyn Generator>,
    pub choice: GeneratorChoice,
    pub request: GenerationRequest,
    pub sources: Vec<Citation>,
    pub fallback: Arc<Answer>,
    /// What the collection says when its sources do not hold the answer.
    pub fallback_text: String,
    pub started: Instant,
    pub deadline: Duration,
    pub first_token_share: f64,
    pub retrieval_ms: f64,
    pub streaming: bool,
    pub answerability: Answerability,
    pub question_language: Option<String>,
}

/// How a generation ended.
enum Ending {
    Answered(Usage),
    Degraded {
        outcome: &'static str,
        reason: String,
    },
}

/// Runs a generation and sends its events; returns the answer when the model gave one that is
/// worth caching.
pub(crate) async fn run_generation(
    generation: Generation,
    events: mpsc::Sender<AskEvent>,
    counters: &GenerationCounters,
) -> Option<Arc<Answer>> {
    let Generation {
        generator,
        choice,
        request,
        sources,
        fallback,
        fallback_text,
        started,
        deadline,
        first_token_share,
        retrieval_ms,
        streaming,
        answerability,
        question_language,
    } = generation;
    let kind = choice.as_str();
    let first_token_by = started + deadline.mul_f64(first_token_share.clamp(0.05, 1.0));
    let finish_by = started + deadline;
    if events
        .send(AskEvent::Citations(sources.clone()))
        .await
        .is_err()
    {
        return None;
    }
    let mut text = String::new();
    let mut shown = 0;
    let question = request
        .messages
        .last()
        .map(|message| message.content.clone())
        .unwrap_or_default();
    let sources_text: String = sources
        .iter()
        .map(|source| source.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // Capitalised words are names only in the sources' own language.
    let check_names = match (&question_language, detect_language(&sources_text)) {
        (Some(question), Some(sources)) => *question == sources,
        _ => true,
    };
    let grounding = Grounding::new(&sources, &question, check_names).with_fallback(&fallback_text);
    let mut first_token_ms = None;
    let ending = match tokio::time::timeout_at(first_token_by, generator.generate(request)).await {
        Err(_) => Ending::Degraded {
            outcome: "first_token_timeout",
            reason: format!(
                "{kind} gave no first token within {} ms",
                (first_token_by - started).as_millis()
            ),
        },
        Ok(Err(err)) => Ending::Degraded {
            outcome: "failed",
            reason: format!("{kind} failed: {err}"),
        },
        Ok(Ok(mut stream)) => {
            let ending = stream_answer(
                &mut stream,
                &events,
                &mut text,
                &mut shown,
                &grounding,
                &mut first_token_ms,
                (first_token_by, finish_by),
                started,
                kind,
            )
            .await;
            match ending {
                Some(ending) => ending,
                // The caller went away.
                None => return None,
            }
        }
    };
    let total_ms = |now: Instant| (now - started).as_secs_f64() * 1e3;
    let (answer, cacheable) = match ending {
        Ending::Answered(usage) => {
            counters.add(kind, "answered");
            // The model said the sources do not hold it, in the collection's own words (a
            // small model often gives only the fallback's first sentence).
            let said = text.to_lowercase();
            let first_sentence = crate::grounding::fallback_first_sentence(&fallback_text);
            let abstained = !first_sentence.is_empty() && said.contains(&first_sentence);
            (
                Answer {
                    answer: text.trim().to_string(),
                    citations: if abstained { Vec::new() } else { sources },
                    generator: kind.to_string(),
                    abstained,
                    degraded: false,
                    reason: None,
                    usage: Some(usage),
                },
                true,
            )
        }
        Ending::Degraded { outcome, reason } => {
            counters.add(kind, outcome);
            tracing::warn!(generator = kind, outcome, %reason, "answering with the fallback");
            let mut answer = (*fallback).clone();
            answer.degraded = true;
            answer.reason = Some(reason);
            let seen = &text[..shown];
            if streaming && !seen.trim().is_empty() {
                // The guest has seen part of the model's answer; the fallback follows it.
                let addition = format!("\n\n{}", fallback.answer);
                if events
                    .send(AskEvent::Delta(addition.clone()))
                    .await
                    .is_err()
                {
                    return None;
                }
                answer.answer = format!("{}{addition}", seen.trim_end());
            } else if streaming
                && events
                    .send(AskEvent::Delta(answer.answer.clone()))
                    .await
                    .is_err()
            {
                return None;
            }
            (answer, false)
        }
    };
    let answer = Arc::new(answer);
    let outcome = AskOutcome {
        answer: Arc::clone(&answer),
        timings: AskTimings {
            retrieval_ms,
            first_token_ms,
            total_ms: total_ms(Instant::now()),
        },
        cached: false,
        deadline,
        answerability,
        question_language,
    };
    let _ = events.send(AskEvent::Done(Box::new(outcome))).await;
    cacheable.then_some(answer)
}

/// The ending of an answer that stated what its sources do not.
fn ungrounded(kind: &'static str, reason: String) -> Ending {
    Ending::Degraded {
        outcome: "ungrounded",
        reason: format!("{kind}'s answer failed the check against its sources: {reason}"),
    }
}

/// Forwards the model's pieces until it finishes, fails or runs out of time. `None` when the
/// caller went away.
#[allow(clippy::too_many_arguments)]
async fn stream_answer(
    stream: &mut TokenStream,
    events: &mpsc::Sender<AskEvent>,
    text: &mut String,
    shown: &mut usize,
    grounding: &Grounding<'_>,
    first_token_ms: &mut Option<f64>,
    (first_token_by, finish_by): (Instant, Instant),
    started: Instant,
    kind: &'static str,
) -> Option<Ending> {
    loop {
        let waiting_for_first = first_token_ms.is_none();
        let by = if waiting_for_first {
            first_token_by
        } else {
            finish_by
        };
        let event = match tokio::time::timeout_at(by, stream.next()).await {
            Err(_) if waiting_for_first => {
                return Some(Ending::Degraded {
                    outcome: "first_token_timeout",
                    reason: format!(
                        "{kind} gave no first token within {} ms",
                        (first_token_by - started).as_millis()
                    ),
                });
            }
            Err(_) => {
                return Some(Ending::Degraded {
                    outcome: "deadline",
                    reason: format!(
                        "{kind} had not finished within the deadline of {} ms",
                        (finish_by - started).as_millis()
                    ),
                });
            }
            Ok(event) => event,
        };
        match event {
            Some(Ok(GenerationEvent::Text(piece))) => {
                if first_token_ms.is_none() {
                    *first_token_ms = Some((Instant::now() - started).as_secs_f64() * 1e3);
                }
                text.push_str(&piece);
                // Only whole sentences are shown, once they are checked, and none before one
                // tells something of the sources ("Yes." waits for what follows it).
                let end = *shown + checked_prefix(&text[*shown..]);
                if end > *shown && grounding.tells_something(&text[..end]) {
                    if let Some(reason) = grounding.unsupported(&text[*shown..end]) {
                        return Some(ungrounded(kind, reason));
                    }
                    if events
                        .send(AskEvent::Delta(text[*shown..end].to_string()))
                        .await
                        .is_err()
                    {
                        return None;
                    }
                    *shown = end;
                }
            }
            Some(Ok(GenerationEvent::Finished { reason, usage })) => {
                if reason == FinishReason::Length && *shown > 0 {
                    // Cut off mid-sentence ("it closes at 2"): the half sentence is dropped,
                    // since a cut number is a wrong one.
                    text.truncate(*shown);
                }
                if text.trim().is_empty() {
                    return Some(Ending::Degraded {
                        outcome: "failed",
                        reason: format!("{kind} gave an empty answer"),
                    });
                }
                if let Some(reason) = grounding.unsupported(&text[*shown..]) {
                    return Some(ungrounded(kind, reason));
                }
                if !grounding.tells_something(text) {
                    return Some(ungrounded(
                        kind,
                        "the answer tells nothing its sources state beyond the question"
                            .to_string(),
                    ));
                }
                if *shown < text.len() {
                    if events
                        .send(AskEvent::Delta(text[*shown..].to_string()))
                        .await
                        .is_err()
                    {
                        return None;
                    }
                    *shown = text.len();
                }
                return Some(Ending::Answered(usage));
            }
            Some(Err(err)) => {
                return Some(Ending::Degraded {
                    outcome: "interrupted",
                    reason: format!("{kind} failed while answering: {err}"),
                });
            }
            None => {
                return Some(Ending::Degraded {
                    outcome: "interrupted",
                    reason: format!("{kind} stopped without finishing its answer"),
                });
            }
        }
    }
}
