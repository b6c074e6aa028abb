//! The `bellhop` binary driven as a user would, linked into one test binary.

mod common;

mod answers;
mod ask;
mod embed;
mod knowledge;
mod postgres;
