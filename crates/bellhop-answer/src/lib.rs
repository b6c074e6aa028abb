//! Retrieval orchestration for bellhop: query embeddings and searches behind bounded caches
//! keyed by collection version, and answers with numbered citations, extractive or written by
//! a model within a deadline.
//!
//! Nothing here knows HTTP; the server and the CLI call [`AnswerEngine`].

mod ask;
mod cache;
mod engine;
mod error;
mod extractive;

pub use ask::{
    AnswerPolicy, AskEvent, AskOptions, AskOutcome, AskTimings, GenerationCounters,
    GeneratorChoice, Generators, grounded_messages, select_sources,
};
pub use cache::{BoundedCache, CacheStats};
pub use engine::{AnswerEngine, CacheOptions, Retrieval};
pub use error::{AnswerError, Result};
pub use extractive::{Answer, Citation, extractive_answer, text_pieces};
