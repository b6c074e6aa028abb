//! The OpenAPI document, generated from the handlers' annotations and the types they
//! exchange. `docs/openapi.json` is this document, committed; a test keeps them equal.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;
use crate::wire;

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

/// A chat completion's messages hold a user message: a constraint utoipa has no attribute
/// for, added to the generated schema.
struct ChatNeedsAUserMessage;

impl Modify for ChatNeedsAUserMessage {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let Some(RefOr::T(Schema::Object(request))) =
            components.schemas.get_mut("ChatCompletionRequest")
        else {
            return;
        };
        if let Some(RefOr::T(Schema::Array(messages))) = request.properties.get_mut("messages") {
            // `contains` is standard JSON Schema; the extensions map serialises flattened
            // into the array's schema, unprefixed when inserted directly.
            messages
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    "contains".into(),
                    serde_json::json!({
                        "type": "object",
                        "properties": {"role": {"const": "user"}},
                        "required": ["role"],
                    }),
                );
        }
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
        routes::collections::update,
        routes::collections::delete,
        routes::documents::add,
        routes::documents::upload,
        routes::documents::list,
        routes::documents::get,
        routes::documents::delete,
        routes::search::search,
        routes::ask::ask,
        routes::feedback::feedback,
        routes::feedback::questions,
        routes::insights::insights,
        routes::openai::embeddings,
        routes::openai::models,
        routes::openai::chat_completions,
        routes::operations::health,
        routes::operations::ready,
        routes::operations::metrics,
    ),
    components(schemas(wire::search::Condition, wire::search::Operators, wire::documents::Scalar,
        wire::search::CitationsEvent, wire::search::DeltaEvent, wire::openai::ChatCompletionData)),
    modifiers(&BearerKey, &ChatNeedsAUserMessage),
    security(("api_key" = []))
)]
struct ApiDoc;

/// The OpenAPI document as pretty JSON, built once.
pub fn openapi_json() -> String {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut document =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        link_answers_to_feedback(&mut document);
        serde_json::to_string_pretty(&document).expect("the OpenAPI document serialises")
    });
    DOCUMENT.clone()
}

/// An answer's `id` is what its feedback names: a link from `/ask` to the feedback route,
/// so that clients (and generated tests) can follow one to the other. Added to the JSON
/// because utoipa's `Link` writes its field names in snake case, where OpenAPI's are camel
/// case.
fn link_answers_to_feedback(document: &mut serde_json::Value) {
    let answered = &mut document["paths"]["/v1/collections/{name}/ask"]["post"]["responses"]["200"];
    if !answered.is_object() {
        return;
    }
    answered["links"] = serde_json::json!({
        "RateAnswer": {
            "operationId": "rate_answer",
            "parameters": {"name": "$request.path.name"},
            "requestBody": {"answer_id": "$response.body#/id", "rating": "up"},
            "description": "Rate this answer: its `id` is the feedback's `answer_id`.",
        }
    });
}
