//! The embedding engine's integration tests, linked into one binary: the real model files
//! against sentence-transformers' reference vectors.

mod common;

mod families;
mod gemma;
mod hub_cache;
mod model_errors;
mod mpnet;
mod precision;
mod queue;
mod reference;
