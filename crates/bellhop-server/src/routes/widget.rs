//! The guest widget's script and styles, and a demo hotel page that shows it: compiled into
//! the binary, so nothing else needs deploying.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

const WIDGET_SOURCE: &str = include_str!("../../assets/widget.js");
const WIDGET_CSS: &str = include_str!("../../assets/widget.css");
const DEMO_PAGE: &str = include_str!("../../assets/demo.html");
const DEMO_CSS: &str = include_str!("../../assets/demo.css");

/// Where widget.js takes its styles: a constructed stylesheet needs them as a string.
const CSS_PLACEHOLDER: &str = "\"__BELLHOP_WIDGET_CSS__\"";

/// widget.js with widget.css inside it, as served.
pub static WIDGET_JS: LazyLock<String> = LazyLock::new(|| {
    let css = serde_json::to_string(WIDGET_CSS).expect("a string serialises");
    WIDGET_SOURCE.replacen(CSS_PLACEHOLDER, &css, 1)
});

/// The collection the demo page shows when none is named.
const DEMO_COLLECTION: &str = "demo-hotel";

/// The demo page's own policy: only this server's script, styles and API. The widget runs
/// under it unchanged.
const DEMO_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The widget, its styles and the demo page, outside admission control like `/health`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/widget.js", get(widget_js))
        .route("/widget.css", get(widget_css))
        .route("/demo", get(demo))
        .route("/demo.css", get(demo_css))
}

/// Headers of a static asset that any site may load.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn widget_js() -> Response {
    asset("text/javascript; charset=utf-8", WIDGET_JS.as_str())
}

async fn widget_css() -> Response {
    asset("text/css; charset=utf-8", WIDGET_CSS)
}

async fn demo_css() -> Response {
    asset("text/css; charset=utf-8", DEMO_CSS)
}

/// `GET /demo` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoParams {
    /// The collection the widget answers from (default `demo-hotel`).
    collection: Option<String>,
    /// A widget key to put on the page, for a server with keys.
    key: Option<String>,
}

/// A fictional hotel's web page with the widget on it.
async fn demo(ApiQuery(params): ApiQuery<DemoParams>) -> Result<Response, ApiError> {
    let collection = params
        .collection
        .unwrap_or_else(|| DEMO_COLLECTION.to_string());
    bellhop_store::validate_collection_name(&collection)?;
    let key_attribute = match params.key {
        None => String::new(),
        Some(key) if is_attribute_safe(&key) => format!(" data-key=\"{key}\""),
        Some(_) => {
            return Err(ApiError::invalid(
                "key must be letters, digits and -_.~ only",
            ));
        }
    };
    let page = DEMO_PAGE
        .replace("{{collection}}", &collection)
        .replace("{{key_attribute}}", &key_attribute);
    let mut response = Html(page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DEMO_CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(response)
}

/// Whether `text` can stand in an HTML attribute unescaped (a collection name always can).
fn is_attribute_safe(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_script_carries_the_stylesheet() {
        assert!(!WIDGET_JS.contains("__BELLHOP_WIDGET_CSS__"));
        assert!(WIDGET_JS.contains(".launcher"));
    }

    #[test]
    fn only_plain_keys_go_into_the_page() {
        assert!(is_attribute_safe("bh_public-123"));
        assert!(!is_attribute_safe("\"><script>"));
        assert!(!is_attribute_safe(""));
    }
}
