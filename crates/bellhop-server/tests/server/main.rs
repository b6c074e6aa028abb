//! The server's integration tests, linked into one binary: each starts a real server on a
//! free loopback port over a temporary store and the real model.

mod common;
mod schema;

mod answers;
mod api;
mod console;
mod isolation;
mod keys;
mod load;
mod matryoshka;
mod models;
mod openai;
mod openapi;
mod replicas;
mod robustness;
mod settings;
mod widget;
