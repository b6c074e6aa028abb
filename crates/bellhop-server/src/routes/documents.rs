//! Documents: add as JSON, upload files, list, get, delete. Ingestion runs through the same
//! pipeline as `bellhop ingest`.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use bellhop_ingest::{FileOutcome, Format, ParsedDocument};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::collections::CollectionPath;
use crate::wire::documents::{
    AddDocuments, DocumentInfo, DocumentPage, DocumentPath, FileResult, FileStatus, Page,
    UploadForm, UploadReport, WriteReceipt,
};
use crate::wire::errors::{ApiErrors, JsonBodyErrors};

/// Adds or replaces documents (chunked, embedded and written in one transaction).
#[utoipa::path(post, path = "/v1/collections/{name}/documents", operation_id = "add_documents", tag = "documents", params(CollectionPath),
    request_body = AddDocuments,
    responses((status = 200, body = WriteReceipt), JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody),
        (status = 409, description = "The collection's model is not one this server serves", body = ErrorBody)))]
pub async fn add(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
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
    // A later document with the same id replaces an earlier one, as a later write would.
    let mut documents = body.documents;
    let mut seen = std::collections::HashSet::new();
    documents.reverse();
    documents.retain(|document| seen.insert(document.id.clone()));
    documents.reverse();
    let mut parsed = Vec::with_capacity(documents.len());
    for document in documents {
        if bellhop_store::is_blank(&document.id) {
            return Err(ApiError::invalid("a document id is empty"));
        }
        let chars = document.text.chars().count();
        if chars > limits.max_text_chars {
            return Err(ApiError::invalid(format!(
                "document {:?} has {chars} characters; the limit is {}",
                document.id, limits.max_text_chars
            )));
        }
        if bellhop_store::is_blank(&document.text) {
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
        .ingestor_for(&name)
        .await?
        .put_parsed(&name, parsed, None, true, None)
        .await?;
    Ok(Json(receipt.into()))
}

/// `POST /v1/collections/{name}/files`: multipart, one part per file (any field name), each
/// read by its file name's extension, at most `limits.max_batch` files. Each file is one
/// transaction; the first that fails stops the upload with its error, and files before it
/// stay written (and are listed).
#[utoipa::path(post, path = "/v1/collections/{name}/files", operation_id = "upload_files", tag = "documents", params(CollectionPath),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "One part per file, with a file name (txt, md, html, pdf, csv, json, jsonl)"),
    responses((status = 200, body = UploadReport), ApiErrors,
        (status = 400, description = "Not multipart, no part with a file name, or more files than the limit", body = ErrorBody),
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody),
        (status = 409, description = "The collection's model is not one this server serves", body = ErrorBody),
        (status = 413, description = "The upload is larger than the limit, or a document in it is longer than `limits.max_text_chars`", body = ErrorBody),
        (status = 415, description = "A file of a type that cannot be read", body = ErrorBody),
        (status = 422, description = "A file that cannot be parsed", body = ErrorBody)))]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    request: Request,
) -> Result<Json<UploadReport>, ApiError> {
    caller.require_admin()?;
    let mut multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|rejection| ApiError::body_rejection(rejection.status(), rejection.body_text()))?;
    // Every part is read before any is ingested, so that an upload with too many files or
    // one of a type that cannot be read writes nothing. The parts after the limit are read
    // too, and dropped, so that the client gets to read the refusal.
    let max_files = state.config.limits.max_batch;
    let mut received: Vec<(String, Vec<u8>, Format)> = Vec::new();
    let mut file_parts = 0usize;
    let mut unsupported: Option<String> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|err| ApiError::body_rejection(err.status(), err.body_text()))?
    {
        let Some(file_name) = field.file_name().map(str::to_string) else {
            continue;
        };
        file_parts += 1;
        let bytes = field
            .bytes()
            .await
            .map_err(|err| ApiError::body_rejection(err.status(), err.body_text()))?;
        if file_parts > max_files || unsupported.is_some() {
            continue;
        }
        match Format::from_path(Path::new(&file_name)) {
            Some(format) => received.push((file_name, bytes.to_vec(), format)),
            None => unsupported = Some(file_name),
        }
    }
    if file_parts > max_files {
        return Err(ApiError::invalid(format!(
            "the upload holds {file_parts} files; the limit is {max_files}"
        )));
    }
    if let Some(file_name) = unsupported {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_file_type",
            format!(
                "{file_name}: unsupported file type (supported: txt, md, html, pdf, csv, json, jsonl)"
            ),
        ));
    }
    if received.is_empty() {
        return Err(ApiError::invalid(
            "the upload holds no file: send multipart/form-data parts with a filename",
        ));
    }
    let ingestor = state.ingestor_for(&name).await?;
    let mut files: Vec<(String, FileOutcome)> = Vec::new();
    for (file_name, bytes, format) in received {
        let outcome = ingestor
            .ingest_bytes(&name, &file_name, bytes, format)
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
    let files = files
        .into_iter()
        .map(|(name, outcome)| match outcome {
            FileOutcome::Ingested {
                documents,
                chunks,
                removed,
            } => FileResult {
                name,
                status: FileStatus::Ingested,
                documents,
                chunks,
                removed,
            },
            FileOutcome::Unchanged | FileOutcome::Failed { .. } => FileResult {
                name,
                // A failed file is an error above; only unchanged files get here.
                status: FileStatus::Unchanged,
                documents: 0,
                chunks: 0,
                removed: 0,
            },
        })
        .collect();
    Ok(Json(UploadReport { files }))
}

/// Most documents in one page.
const MAX_PAGE: usize = crate::wire::documents::MAX_PAGE;

/// Furthest offset of a page.
const MAX_OFFSET: usize = u32::MAX as usize;

/// Documents by id, paged.
#[utoipa::path(get, path = "/v1/collections/{name}/documents", operation_id = "list_documents", tag = "documents", params(CollectionPath, Page),
    responses((status = 200, body = DocumentPage), ApiErrors,
        (status = 400, description = "A query parameter out of range", body = ErrorBody),
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<DocumentPage>, ApiError> {
    caller.require_admin()?;
    if page.limit == 0 || page.limit > MAX_PAGE {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    if page.offset > MAX_OFFSET {
        return Err(ApiError::invalid(format!(
            "offset must be at most {MAX_OFFSET}"
        )));
    }
    let documents = state
        .engine
        .store()
        .list_documents(&name, page.offset, page.limit)
        .await?;
    Ok(Json(DocumentPage {
        documents: documents.into_iter().map(DocumentInfo::from).collect(),
        offset: page.offset,
        limit: page.limit,
    }))
}

/// One document's fields and chunk count.
#[utoipa::path(get, path = "/v1/collections/{name}/documents/{id}", operation_id = "get_document", tag = "documents", params(DocumentPath),
    responses((status = 200, body = DocumentInfo), ApiErrors,
        (status = 400, description = "The name is not a collection name", body = ErrorBody),
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection or document", body = ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(DocumentPath { name, id }): ApiPath<DocumentPath>,
) -> Result<Json<DocumentInfo>, ApiError> {
    caller.require_admin()?;
    Ok(Json(
        state.engine.store().document(&name, &id).await?.into(),
    ))
}

/// Deletes one document and its chunks.
#[utoipa::path(delete, path = "/v1/collections/{name}/documents/{id}", operation_id = "delete_document", tag = "documents", params(DocumentPath),
    responses((status = 200, body = WriteReceipt), ApiErrors,
        (status = 400, description = "The name is not a collection name", body = ErrorBody),
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection or document", body = ErrorBody)))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(DocumentPath { name, id }): ApiPath<DocumentPath>,
) -> Result<Json<WriteReceipt>, ApiError> {
    caller.require_admin()?;
    Ok(Json(
        state
            .engine
            .store()
            .delete_document(&name, &id)
            .await?
            .into(),
    ))
}
