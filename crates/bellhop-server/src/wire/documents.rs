//! Documents: what is sent to add them, what is stored, what a write did.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest document text, in characters.
pub const MAX_TEXT_CHARS: usize = 200_000;
/// Most documents in one add, or inputs in one embeddings request.
pub const MAX_BATCH: usize = 256;
/// Most documents in one page.
pub const MAX_PAGE: usize = 1000;

/// The document a path names.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DocumentPath {
    /// The collection.
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    pub name: String,
    /// The document's id.
    pub id: String,
}

/// A metadata value: a string, number or boolean, or a list of them.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum MetadataValue {
    /// A string.
    String(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
    /// A list of strings, numbers or booleans.
    List(Vec<Scalar>),
}

/// A string, number or boolean.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    String(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// One document sent as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// Unique in its collection; adding the same id replaces the document.
    #[schema(pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]")]
    pub id: String,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
    /// Its text, chunked and embedded.
    #[schema(pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]", max_length = 200000)]
    pub text: String,
    /// Values by key, for filters.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, MetadataValue>)]
    pub metadata: bellhop_store::Metadata,
    /// Where it came from (`api` when absent).
    #[serde(default)]
    pub source: Option<String>,
}

super::object_only!(NewDocument);

/// `POST /v1/collections/{name}/documents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct AddDocuments {
    /// Written in one transaction; ids must differ.
    #[schema(min_items = 1, max_items = 256)]
    pub documents: Vec<NewDocument>,
}

super::object_only!(AddDocuments);

/// What a write did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteReceipt {
    /// The collection's version after the write.
    pub version: u64,
    /// Documents written.
    pub documents: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Documents removed because their source no longer yields them.
    pub removed: usize,
}

impl From<bellhop_store::WriteReceipt> for WriteReceipt {
    fn from(receipt: bellhop_store::WriteReceipt) -> Self {
        Self {
            version: receipt.version,
            documents: receipt.documents,
            chunks: receipt.chunks,
            removed: receipt.removed,
        }
    }
}

/// A stored document, without its chunks.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentInfo {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Where it came from.
    pub source: String,
    /// Values by key, for filters.
    #[schema(value_type = std::collections::BTreeMap<String, MetadataValue>)]
    pub metadata: bellhop_store::Metadata,
    /// Its chunks.
    pub chunks: u64,
    /// Last write, seconds since the Unix epoch.
    pub updated_at: i64,
}

impl From<bellhop_store::DocumentInfo> for DocumentInfo {
    fn from(info: bellhop_store::DocumentInfo) -> Self {
        Self {
            id: info.id,
            title: info.title,
            source: info.source,
            metadata: info.metadata,
            chunks: info.chunks,
            updated_at: info.updated_at,
        }
    }
}

/// Paging of `GET /v1/collections/{name}/documents`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Documents to skip.
    #[serde(default)]
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub offset: usize,
    /// Documents to return (default 100).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: usize,
}

fn default_limit() -> usize {
    100
}

/// One page of documents, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    /// The documents.
    pub documents: Vec<DocumentInfo>,
    /// Documents skipped.
    pub offset: usize,
    /// The most asked for.
    pub limit: usize,
}

/// A multipart upload of files.
// Only a schema: the handler reads the multipart stream part by part (and takes files
// under any field name).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// One part per file, each with a file name whose extension says how to read it: txt,
    /// md, html, pdf, csv, json or jsonl.
    #[schema(value_type = Vec<String>, format = Binary, min_items = 1)]
    pub files: Vec<Vec<u8>>,
}

/// What an upload did, file by file.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadReport {
    /// In the order they were sent.
    pub files: Vec<FileResult>,
}

/// Whether an uploaded file was read.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Chunked, embedded and written.
    Ingested,
    /// The same content was ingested before.
    Unchanged,
}

/// One uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileResult {
    /// Its file name.
    pub name: String,
    /// Whether it was read.
    pub status: FileStatus,
    /// Documents written.
    pub documents: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Documents the file no longer yields, removed.
    pub removed: usize,
}
