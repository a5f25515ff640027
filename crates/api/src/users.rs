//! `/api/v1/users`: migration users across batches, paged; one user with
//! its folders and skipped items.

use axum::extract::State;
use axum::Json;
use mailferry_core::state::UserStatus;
use mailferry_engine::views::{UserDetailView, UserView};
use mailferry_store::UserFilter;

use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::wire::{ErrorBody, UserPage, UserQuery};
use crate::AppState;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;
const MAX_OFFSET: u64 = 1_000_000_000;

/// List migration users (filtered by batch and status), one page at a time.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(UserQuery),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        (status = 400, description = "Invalid query (status, limit, offset)", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, ApiQuery(q): ApiQuery<UserQuery>) -> Result<Json<UserPage>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|st| st.parse::<UserStatus>().map_err(|e| ApiError::bad_request(format!("status: {e}"))))
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ApiError::bad_request(format!("offset must be at most {MAX_OFFSET}")));
    }
    if let Some(b) = &q.batch {
        s.engine.batch_state(b).await?;
    }
    // One more than asked tells whether there is a next page.
    let mut users = s
        .engine
        .users(UserFilter { batch: q.batch, status, email: None, limit: Some(limit + 1), offset })
        .await?;
    let more = users.len() as u64 > limit;
    users.truncate(limit as usize);
    Ok(Json(UserPage {
        users: users.iter().map(UserView::from).collect(),
        limit,
        offset,
        next_offset: more.then_some(offset + limit),
    }))
}

/// One migration user (its newest batch) with its folders and skipped items.
#[utoipa::path(get, path = "/api/v1/users/{email}", tag = "users",
    params(("email" = String, Path, description = "The mailbox's address")),
    responses(
        (status = 200, description = "The user, its folders and skipped items", body = UserDetailView),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such migration user", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn show(State(s): State<AppState>, ApiPath(email): ApiPath<String>) -> Result<Json<UserDetailView>, ApiError> {
    Ok(Json(s.engine.user_detail(&email).await?))
}
