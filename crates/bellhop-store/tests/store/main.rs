//! The embedded store's integration tests, linked into one binary (the crash test stays its
//! own binary because it re-runs itself as the writer it kills).

#[path = "../common/mod.rs"]
mod common;

mod concurrency;
mod search;
mod store;
