//! The `bellhop` binary driven as a user would, linked into one test binary.

mod embed;
mod knowledge;
