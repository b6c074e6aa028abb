//! `bellhop.chunk`: the ingestion chunker on one text.

use bellhop_ingest::{
    Chunker, ChunkingOptions, Format, ModelTokens, ReadOptions, TokenCounter,
    WhitespaceTokenCounter, read_document_bytes,
};
use pyo3::prelude::*;
use serde::Serialize;

use crate::convert::to_python;
use crate::embedder::Embedder;
use crate::errors::{ingest_error, invalid};

#[derive(Serialize)]
struct ChunkOut {
    text: String,
    section: Vec<String>,
    embedding_text: String,
}

/// Splits `text` into chunks as ingestion does: sections, paragraphs and sentences are kept
/// whole when they fit, and no chunk exceeds `max_tokens` tokens (counted by `embedder`'s
/// tokenizer, or whitespace words plus two when none is given). `format` is "text" or
/// "markdown" (headings become each chunk's section). With a `title`, each chunk's
/// embedding text starts with `title > section`, as in ingestion. Returns a list of dicts with `text`,
/// `section` (headings, outermost first) and `embedding_text` (what is embedded).
#[pyfunction]
#[pyo3(signature = (text, max_tokens = 256, overlap = 32, *, format = "text", title = None, embedder = None))]
pub fn chunk<'py>(
    py: Python<'py>,
    text: String,
    max_tokens: usize,
    overlap: usize,
    format: &str,
    title: Option<String>,
    embedder: Option<PyRef<'py, Embedder>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (format, name) = match format {
        "text" | "txt" => (Format::Text, "text.txt"),
        "markdown" | "md" => (Format::Markdown, "text.md"),
        other => {
            return Err(invalid(format!(
                "unknown format {other:?}; use \"text\" or \"markdown\""
            )));
        }
    };
    if max_tokens == 0 {
        return Err(invalid("max_tokens must be at least 1"));
    }
    let model = embedder.map(|embedder| embedder.inner.clone());
    // With a title, embedding texts start with `Title > Section` as in ingestion.
    let context_header = title.is_some();
    let chunks = py.detach(|| -> Result<Vec<ChunkOut>, bellhop_ingest::IngestError> {
        let mut document =
            read_document_bytes(text.as_bytes(), name, format, &ReadOptions::default())?
                .into_iter()
                .next();
        let Some(document) = document.as_mut() else {
            return Ok(Vec::new());
        };
        if let Some(title) = title {
            document.title = title;
        }
        let model_tokens = model.as_deref().map(ModelTokens);
        let counter: &dyn TokenCounter = match &model_tokens {
            Some(tokens) => tokens,
            None => &WhitespaceTokenCounter,
        };
        let options = ChunkingOptions {
            max_tokens,
            overlap_tokens: overlap,
            context_header,
        };
        Ok(Chunker::new(options, counter)
            .chunk(document)
            .into_iter()
            .map(|chunk| ChunkOut {
                text: chunk.text,
                section: chunk.section,
                embedding_text: chunk.embedding_text,
            })
            .collect::<Vec<_>>())
    });
    let chunks = chunks.map_err(ingest_error)?;
    to_python(py, &chunks)
}
