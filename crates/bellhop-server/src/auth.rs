//! API keys: the `Caller` extractor finds the key a request carries and what it may do.
//!
//! Keys are configured as SHA-256 digests; a presented key is hashed and compared with
//! every configured digest in constant time, so timing tells nothing about near misses.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ApiKeyConfig, Role};
use crate::error::ApiError;
use crate::guest_access::{GuestRateLimits, cross_origin, origin_refused};
use crate::state::AppState;

/// The configured keys, decoded.
#[derive(Debug, Default)]
pub struct ApiKeys {
    keys: Vec<(ApiKeyConfig, [u8; 32])>,
    guest_limits: GuestRateLimits,
}

impl ApiKeys {
    /// Decodes configured keys (validated by the config).
    pub fn new(configs: &[ApiKeyConfig]) -> Self {
        Self {
            keys: configs
                .iter()
                .map(|config| {
                    let mut digest = [0u8; 32];
                    hex::decode_to_slice(&config.sha256, &mut digest).unwrap_or_default();
                    (config.clone(), digest)
                })
                .collect(),
            guest_limits: GuestRateLimits::new(configs),
        }
    }

    /// The widget keys' rate limits.
    pub fn guest_limits(&self) -> &GuestRateLimits {
        &self.guest_limits
    }

    /// Whether any key is configured; without keys every request is an admin.
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    fn find(&self, presented: &str) -> Option<&ApiKeyConfig> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        // No early exit: every digest is compared whatever matched.
        for (config, expected) in &self.keys {
            if bool::from(digest.ct_eq(expected)) {
                found = Some(config);
            }
        }
        found
    }
}

/// The hex SHA-256 of a key, as the config stores it.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No keys are configured.
    Open,
    /// A configured key.
    Key {
        /// Its label.
        name: String,
        /// Its role.
        role: Role,
        /// Its collections (for `query` and `widget`).
        collections: Vec<String>,
    },
}

impl Caller {
    fn is_admin(&self) -> bool {
        matches!(
            self,
            Caller::Open
                | Caller::Key {
                    role: Role::Admin,
                    ..
                }
        )
    }

    /// 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key may not manage collections or documents",
            ))
        }
    }

    /// Whether the caller may use `collection`.
    pub fn can_use(&self, collection: &str) -> bool {
        match self {
            Caller::Open
            | Caller::Key {
                role: Role::Admin, ..
            } => true,
            Caller::Key { collections, .. } => collections.iter().any(|c| c == collection),
        }
    }

    fn is_widget(&self) -> bool {
        matches!(
            self,
            Caller::Key {
                role: Role::Widget,
                ..
            }
        )
    }

    fn widget_refused() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a widget key may only ask, chat and send feedback",
        )
    }

    /// 403 for a widget key, which may only ask, chat and send feedback: what a web page
    /// shows must not open anything else (embeddings, the bare chat model, the list of
    /// collections).
    pub fn require_beyond_answers(&self) -> Result<(), ApiError> {
        if self.is_widget() {
            Err(Self::widget_refused())
        } else {
            Ok(())
        }
    }

    /// 403 unless the caller may search and read `collection`; the same answer whether it
    /// exists or not.
    pub fn require_collection(&self, collection: &str) -> Result<(), ApiError> {
        self.require_beyond_answers()?;
        self.require_answers(collection)
    }

    /// 403 unless the caller may ask `collection` and send feedback on its answers (widget
    /// keys included).
    pub fn require_answers(&self, collection: &str) -> Result<(), ApiError> {
        if self.can_use(collection) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this key may not use collection {collection:?}"),
            ))
        }
    }
}

fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim());
    }
    parts.headers.get("x-api-key")?.to_str().ok().map(str::trim)
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // Browsers send `Origin`; a page on another site may only use a widget key that
        // lists it.
        let foreign_origin = cross_origin(parts).map(str::to_string);
        if !state.keys.enabled() {
            return match foreign_origin {
                Some(origin) => Err(origin_refused(&origin)),
                None => Ok(Caller::Open),
            };
        }
        let Some(presented) = presented_key(parts) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "send an API key as `Authorization: Bearer KEY`",
            ));
        };
        match state.keys.find(presented) {
            Some(config) => {
                if let Some(origin) = foreign_origin
                    && !(config.role == Role::Widget && config.allowed_origins.contains(&origin))
                {
                    return Err(origin_refused(&origin));
                }
                if config.role == Role::Widget {
                    state.keys.guest_limits().admit(&config.name, parts)?;
                }
                Ok(Caller::Key {
                    name: config.name.clone(),
                    role: config.role,
                    collections: config.collections.clone(),
                })
            }
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "the API key is not valid",
            )),
        }
    }
}
