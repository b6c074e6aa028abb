//! Turns files into documents and documents into chunks.
//!
//! Readers ([`read_document_bytes`], from `bellhop-readers`) parse text, Markdown, HTML, PDF,
//! CSV and JSON into [`ParsedDocument`]s: a title, metadata and paragraph-level [`Block`]s that
//! remember their section path. The [`Chunker`] packs those blocks into chunks that respect sections,
//! paragraphs and sentences and never exceed a token budget. The [`Ingestor`] runs the whole
//! path (files → chunks → vectors → a [`bellhop_store::Store`]), and [`beir`] evaluates
//! retrieval on BEIR-layout datasets. Readers and the chunker are pure functions.

pub mod beir;
mod chunker;
mod error;
mod pipeline;
mod walk;

pub use bellhop_readers::{
    Block, Format, Metadata, ParsedDocument, ReadError, ReadOptions, read_document_bytes,
};
pub use chunker::{Chunk, Chunker, ChunkingOptions, TokenCounter, WhitespaceTokenCounter};
pub use error::{IngestError, Result};
pub use pipeline::{
    FileOutcome, FileReport, IngestEvent, IngestReport, Ingestor, ModelTokens, ProgressSink,
};
pub use walk::{SourceFile, collect_files};
