//! Bearer tokens. A token is `mf_` followed by 43 characters of base64url
//! (32 random bytes); it is shown once, by `mailferry token create`, and
//! only its SHA-256 is stored. A request is let in when the SHA-256 of its
//! `Authorization: Bearer …` token is a live token's.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

pub const TOKEN_PREFIX: &str = "mf_";

/// The name of the token a request was let in with (for the request log).
#[derive(Debug, Clone)]
pub struct TokenName(pub String);

/// A new random token: `mf_` + base64url of 32 bytes from the OS.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(std::io::Error::other)?;
    Ok(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of an `Authorization: Bearer TOKEN` header.
fn bearer(request: &Request) -> Result<&str, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("this request needs a token: Authorization: Bearer TOKEN (make one with `mailferry token create NAME`)"))?;
    let value = value.to_str().map_err(|_| ApiError::unauthorized("the Authorization header is not valid"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`"));
    }
    Ok(token.trim())
}

/// Lets a request in only with a live token.
pub async fn require_token(State(state): State<AppState>, mut request: Request, next: Next) -> Result<Response, ApiError> {
    let hash = token_hash(bearer(&request)?);
    let record = state.engine.store().token_by_hash(&hash).await.map_err(|e| {
        tracing::error!("token lookup failed: {e}");
        ApiError::internal("the token could not be checked (store error); see the server's log")
    })?;
    let Some(record) = record else {
        return Err(ApiError::unauthorized("the token is not valid (unknown or revoked)"));
    };
    request.extensions_mut().insert(TokenName(record.name.clone()));
    let mut response = next.run(request).await;
    response.extensions_mut().insert(TokenName(record.name));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("mf_"));
        assert_eq!(a.len(), 3 + 43);
        assert!(a[3..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
