//! Documents: add as JSON, upload files, list, get, delete. Ingestion runs through the same
//! pipeline as `bellhop ingest`.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use bellhop_ingest::{FileOutcome, Format, ParsedDocument};
use bellhop_store::{DocumentInfo, Metadata, WriteReceipt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// One document sent as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocumentBody {
    id: String,
    #[serde(default)]
    title: Option<String>,
    text: String,
    /// String, number, bool or string-list values, for filters.
    #[serde(default)]
    #[schema(value_type = Object)]
    metadata: Metadata,
    #[serde(default)]
    source: Option<String>,
}

/// `POST /v1/collections/{name}/documents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDocuments {
    documents: Vec<NewDocumentBody>,
}

/// Adds or replaces documents (chunked, embedded and written in one transaction).
#[utoipa::path(post, path = "/v1/collections/{name}/documents", tag = "documents", params(("name" = String, Path)),
    request_body = AddDocuments,
    responses((status = 200, body = WriteReceipt), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 413, body = crate::openapi::ErrorBody)))]
pub async fn add(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<AddDocuments>,
) -> Result<Json<WriteReceipt>, ApiError> {
    caller.require_admin()?;
    let limits = &state.config.limits;
    if body.documents.is_empty() || body.documents.len() > limits.max_batch {
        return Err(ApiError::invalid(format!(
            "send between 1 and {} documents, got {}",
            limits.max_batch,
            body.documents.len()
        )));
    }
    let mut parsed = Vec::with_capacity(body.documents.len());
    for document in body.documents {
        if document.id.trim().is_empty() {
            return Err(ApiError::invalid("a document id is empty"));
        }
        let chars = document.text.chars().count();
        if chars > limits.max_text_chars {
            return Err(ApiError::invalid(format!(
                "document {:?} has {chars} characters; the limit is {}",
                document.id, limits.max_text_chars
            )));
        }
        if document.text.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "document {:?} has no text",
                document.id
            )));
        }
        parsed.push(ParsedDocument::from_text(
            document.id,
            document.title,
            document.text,
            document.metadata,
            document.source.unwrap_or_else(|| "api".into()),
        ));
    }
    let receipt = state
        .ingestor
        .put_parsed(&name, parsed, None, true, None)
        .await?;
    Ok(Json(receipt))
}

/// `POST /v1/collections/{name}/files`: multipart, one part per file (any field name), each
/// read by its file name's extension. Each file is one transaction; the first that fails
/// stops the upload with its error, and files before it stay written (and are listed).
#[utoipa::path(post, path = "/v1/collections/{name}/files", tag = "documents", params(("name" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "One part per file, with a file name (txt, md, html, pdf, csv, json, jsonl)"),
    responses((status = 200, body = UploadReport), (status = 413, body = crate::openapi::ErrorBody), (status = 415, body = crate::openapi::ErrorBody), (status = 422, body = crate::openapi::ErrorBody)))]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    request: Request,
) -> Result<Json<UploadReport>, ApiError> {
    caller.require_admin()?;
    let mut multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|rejection| ApiError::body_rejection(rejection.status(), rejection.body_text()))?;
    let mut files: Vec<(String, FileOutcome)> = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|err| ApiError::body_rejection(err.status(), err.body_text()))?
    {
        let Some(file_name) = field.file_name().map(str::to_string) else {
            continue;
        };
        let bytes = field
            .bytes()
            .await
            .map_err(|err| ApiError::body_rejection(err.status(), err.body_text()))?;
        let format = Format::from_path(Path::new(&file_name)).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_file_type",
                format!("{file_name}: unsupported file type (supported: txt, md, html, pdf, csv, json, jsonl)"),
            )
        })?;
        let outcome = state
            .ingestor
            .ingest_bytes(&name, &file_name, bytes.to_vec(), format)
            .await
            .map_err(|err| {
                let mut error = ApiError::from(err);
                if !files.is_empty() {
                    error.message = format!(
                        "{} (files before it were ingested: {})",
                        error.message,
                        files
                            .iter()
                            .map(|(name, _)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                error
            })?;
        files.push((file_name, outcome));
    }
    if files.is_empty() {
        return Err(ApiError::invalid(
            "the upload holds no file: send multipart/form-data parts with a filename",
        ));
    }
    let files = files
        .into_iter()
        .map(|(name, outcome)| match outcome {
            FileOutcome::Ingested {
                documents,
                chunks,
                removed,
            } => FileResult {
                name,
                status: "ingested",
                documents,
                chunks,
                removed,
            },
            FileOutcome::Unchanged | FileOutcome::Failed { .. } => FileResult {
                name,
                // A failed file is an error above; only unchanged files get here.
                status: "unchanged",
                documents: 0,
                chunks: 0,
                removed: 0,
            },
        })
        .collect();
    Ok(Json(UploadReport { files }))
}

/// What an upload did, file by file.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadReport {
    files: Vec<FileResult>,
}

/// One uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileResult {
    name: String,
    /// `ingested`, or `unchanged` when the same content was ingested before.
    status: &'static str,
    documents: usize,
    chunks: usize,
    /// Documents the file no longer yields, removed.
    removed: usize,
}

/// Paging of `GET /v1/collections/{name}/documents`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

const MAX_PAGE: usize = 1000;

/// Documents by id, paged.
#[utoipa::path(get, path = "/v1/collections/{name}/documents", tag = "documents", params(("name" = String, Path), Page),
    responses((status = 200, body = DocumentPage), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<DocumentPage>, ApiError> {
    caller.require_admin()?;
    if page.limit == 0 || page.limit > MAX_PAGE {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let documents = state
        .engine
        .store()
        .list_documents(&name, page.offset, page.limit)
        .await?;
    Ok(Json(DocumentPage {
        documents,
        offset: page.offset,
        limit: page.limit,
    }))
}

/// One page of documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    documents: Vec<DocumentInfo>,
    offset: usize,
    limit: usize,
}

/// One document's fields and chunk count.
#[utoipa::path(get, path = "/v1/collections/{name}/documents/{id}", tag = "documents", params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = DocumentInfo), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Json<DocumentInfo>, ApiError> {
    caller.require_admin()?;
    Ok(Json(state.engine.store().document(&name, &id).await?))
}

/// Deletes one document and its chunks.
#[utoipa::path(delete, path = "/v1/collections/{name}/documents/{id}", tag = "documents", params(("name" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = WriteReceipt), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Json<WriteReceipt>, ApiError> {
    caller.require_admin()?;
    Ok(Json(
        state.engine.store().delete_document(&name, &id).await?,
    ))
}
