//! The staff console at `/admin`: a page, its scripts and styles, compiled into the binary.
//! It works through the JSON API with the key staff sign in with, so it serves no data of
//! its own and needs no key to load.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

const PAGE: &str = include_str!("../../assets/console/index.html");
const STYLES: &str = include_str!("../../assets/console/console.css");
const MAIN_SCRIPT: &str = include_str!("../../assets/console/console.js");
const API_SCRIPT: &str = include_str!("../../assets/console/api.js");
const VIEWS_SCRIPT: &str = include_str!("../../assets/console/views.js");

/// Only this server's own scripts, styles and API: no inline script, no eval, no frames.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The console's page and assets, outside admission control like the widget.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(|| serve("text/html; charset=utf-8", PAGE)))
        .route("/admin/", get(|| serve("text/html; charset=utf-8", PAGE)))
        .route(
            "/admin/console.css",
            get(|| serve("text/css; charset=utf-8", STYLES)),
        )
        .route(
            "/admin/console.js",
            get(|| serve("text/javascript; charset=utf-8", MAIN_SCRIPT)),
        )
        .route(
            "/admin/api.js",
            get(|| serve("text/javascript; charset=utf-8", API_SCRIPT)),
        )
        .route(
            "/admin/views.js",
            get(|| serve("text/javascript; charset=utf-8", VIEWS_SCRIPT)),
        )
}

/// One console file, under the console's policy; never cached, so that a new binary's
/// console is the one loaded.
async fn serve(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONSOLE_CSP),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}
