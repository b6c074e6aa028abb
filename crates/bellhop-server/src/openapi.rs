//! The OpenAPI document, generated from the handlers' annotations and the types they
//! exchange. `docs/openapi.json` is this document, committed; a test keeps them equal.

use bellhop_answer::Citation;
use bellhop_store::{
    ActiveIndex, AnswerabilitySettings, ChunkingSettings, CollectionInfo, DocumentInfo, Hit,
    IndexKind, Retriever, RetrieverMatch, SearchMode, WriteReceipt,
};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes;

/// Every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `collection_not_found`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bellhop",
        description = "Fast answers from your own documents: collections, search, answers with citations, and OpenAI-compatible endpoints."
    ),
    paths(
        routes::collections::create,
        routes::collections::list,
        routes::collections::get,
        routes::collections::delete,
        routes::documents::add,
        routes::documents::upload,
        routes::documents::list,
        routes::documents::get,
        routes::documents::delete,
        routes::search::search,
        routes::search::ask,
        routes::feedback::feedback,
        routes::feedback::questions,
        routes::openai::embeddings,
        routes::openai::models,
        routes::openai::chat_completions,
        routes::operations::health,
        routes::operations::ready,
        routes::operations::metrics,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Hit, RetrieverMatch, Retriever, SearchMode, CollectionInfo,
        ChunkingSettings, IndexKind, ActiveIndex, DocumentInfo, WriteReceipt, Citation, AnswerabilitySettings,
    )),
    modifiers(&BearerKey),
    security(("api_key" = []))
)]
struct ApiDoc;

/// The OpenAPI document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}
