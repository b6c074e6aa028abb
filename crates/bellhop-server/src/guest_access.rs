//! What a web page may do with a `widget` key: come from an allowed origin, within a rate
//! limit per client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{ApiKeyConfig, RateLimit};
use crate::error::ApiError;

/// The origin of a request from a page on another site, or `None` for one from the same
/// origin or from outside a browser (which sends no `Origin`).
pub fn cross_origin(parts: &Parts) -> Option<&str> {
    let origin = parts
        .headers
        .get(header::ORIGIN)?
        .to_str()
        .unwrap_or("null");
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    match (authority, host) {
        (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => None,
        _ => Some(origin),
    }
}

/// 403 for a cross-origin request this key may not make.
pub fn origin_refused(origin: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        format!("requests from {origin:?} need a widget key that lists that origin"),
    )
}

/// One token bucket per client address for each widget key.
#[derive(Default)]
pub struct GuestRateLimits {
    by_key: HashMap<String, DefaultKeyedRateLimiter<IpAddr>>,
}

impl std::fmt::Debug for GuestRateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestRateLimits")
            .field("keys", &self.by_key.len())
            .finish()
    }
}

impl GuestRateLimits {
    /// Buckets for every widget key of `keys`.
    pub fn new(keys: &[ApiKeyConfig]) -> Self {
        let by_key = keys
            .iter()
            .filter_map(|key| Some((key.name.clone(), limiter(key.widget_rate_limit()?))))
            .collect();
        Self { by_key }
    }

    /// Takes a token from the bucket of `key` for the request's client address, or answers
    /// 429 with the seconds until the next one.
    pub fn admit(&self, key: &str, parts: &Parts) -> Result<(), ApiError> {
        let (Some(limiter), Some(client)) = (self.by_key.get(key), client_address(parts)) else {
            return Ok(());
        };
        limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            rate_limited(wait)
        })
    }

    /// Forgets clients whose buckets are full again, so that memory follows the clients of
    /// the last minutes rather than of all time.
    pub fn forget_idle_clients(&self) {
        for limiter in self.by_key.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn limiter(limit: RateLimit) -> DefaultKeyedRateLimiter<IpAddr> {
    let per_minute = NonZeroU32::new(limit.per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
}

/// The peer's address; every guest behind one proxy shares it.
fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

fn rate_limited(wait: Duration) -> ApiError {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u32;
    ApiError {
        retry_after: Some(seconds),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from this address; retry in {seconds} s"),
        )
    }
}

/// CORS for the origins of every widget key: preflights answered, and the response headers
/// a page needs to read an answer. `None` when no widget key lists an origin, so that no
/// cross-origin request is ever allowed.
pub fn cors(keys: &[ApiKeyConfig]) -> Option<CorsLayer> {
    let mut origins: Vec<HeaderValue> = keys
        .iter()
        .filter(|key| key.widget_rate_limit().is_some())
        .flat_map(|key| &key.allowed_origins)
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    origins.sort();
    origins.dedup();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([axum::http::Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::HeaderName::from_static("x-api-key"),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}
