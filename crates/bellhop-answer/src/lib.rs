//! Answers for bellhop: searches (through `bellhop-retrieval`) behind result caches keyed by
//! collection version; a decision on whether the sources answer the question at all, which
//! abstains with the collection's fallback when they do not; and answers with numbered
//! citations, extractive or written by a model within a deadline and checked against its
//! sources.
//!
//! Nothing here knows HTTP; the server and the CLI call [`AnswerEngine`].

mod answerability;
mod ask;
mod engine;
mod error;
pub mod evaluation;
mod extractive;
mod follow_up;
mod grounding;
mod language;

pub use answerability::{Answerability, AnswerabilityThresholds, assess, key_terms};
pub use ask::{
    AnswerPolicy, AskEvent, AskOptions, AskOutcome, AskReply, AskTimings, GenerationCounters,
    GeneratorChoice, Generators, grounded_messages, select_sources,
};
pub use bellhop_retrieval::{BoundedCache, CacheStats, Retrieval, Searcher};
pub use engine::{AnswerEngine, CacheOptions, cosine, panic_text};
pub use error::{AnswerError, Result};
pub use extractive::{Answer, Citation, DEFAULT_FALLBACK, extractive_answer, text_pieces};
pub use language::detect_language;
