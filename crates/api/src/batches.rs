//! `/api/v1/batches`: the same rules as `mailferry batch …`. The actions
//! (start, stop, sync, complete) only change state; the workers of the
//! `serve` process do the work.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mailferry_core::batch::{parse_duration_secs, parse_size, BatchOptions};
use mailferry_core::csv_input::CsvOptions;
use mailferry_core::Name;
use mailferry_engine::batch::BatchSpec;
use mailferry_engine::views::BatchView;

use crate::error::ApiError;
use crate::extract::{body_rejection, is_json, media_type, parse_json, unsupported_media_type, ApiPath, ApiQuery};
use crate::wire::{
    AddUsers, AddUsersForm, BatchCreate, BatchCreateForm, BatchInput, ErrorBody, Removed, Report, ReportFormat,
    ReportQuery, UsersAdded, VerifyQuery, VerifyView,
};
use crate::AppState;

/// List batches (without their users).
#[utoipa::path(get, path = "/api/v1/batches", tag = "batches",
    responses(
        (status = 200, description = "Every batch", body = Vec<BatchView>),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<BatchView>>, ApiError> {
    Ok(Json(s.engine.batch_states().await?.iter().map(|b| BatchView::new(b, false)).collect()))
}

/// Create a batch from a CSV (`EmailAddress,UserName,Password`), uploaded as
/// a `csv` file part of `multipart/form-data` with the options as fields, or
/// as `application/json` with `csv` as text. The CSV is validated as a whole:
/// any bad row is a 400 listing every bad row, and nothing is stored. The
/// target endpoint is tested on the test mailbox (the first row unless
/// `test_mailbox`) and must accept writes.
#[utoipa::path(post, path = "/api/v1/batches", tag = "batches",
    request_body(content(
        (BatchCreate = "application/json"),
        (BatchCreateForm = "multipart/form-data"))),
    responses(
        (status = 201, description = "Created, with its users", body = BatchView),
        (status = 400, description = "Invalid input, or invalid CSV (`error.rows` lists every bad row)", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "An endpoint does not exist", body = ErrorBody),
        (status = 409, description = "The batch exists, or an address is in another active batch", body = ErrorBody),
        (status = 413, description = "Body too large (a CSV: 10 MB)", body = ErrorBody),
        (status = 415, description = "Neither JSON nor multipart/form-data", body = ErrorBody),
        (status = 422, description = "The target endpoint's test failed or its INBOX is not writable", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, request: Request) -> Result<(StatusCode, Json<BatchView>), ApiError> {
    let input = read_batch_input(request).await?;
    let name = Name::parse(&input.name).map_err(|e| ApiError::bad_request(format!("batch name {:?}: {e}", input.name)))?;
    let options = options(&input)?;
    let autostart = input.autostart;
    let created = s
        .engine
        .create_batch(BatchSpec {
            name,
            source: input.source,
            target: input.target,
            csv: input.csv,
            csv_options: CsvOptions { allow_unknown_columns: input.allow_unknown_columns },
            options,
        })
        .await?;
    let name = created.batch.name.to_string();
    let state = if autostart { s.engine.start_batch(&name).await? } else { s.engine.batch_state(&name).await? };
    Ok((StatusCode::CREATED, Json(BatchView::new(&state, true))))
}

fn options(input: &BatchInput) -> Result<BatchOptions, ApiError> {
    let mut options = BatchOptions {
        exclude_folders: input.exclude_folders.clone(),
        include_folders: input.include_folders.clone(),
        autostart: input.autostart,
        autocomplete: input.autocomplete,
        test_mailbox: input.test_mailbox.clone(),
        start_after: input.start_after.as_deref().map(|t| parse_time(t, "start_after")).transpose()?,
        complete_after: input.complete_after.as_deref().map(|t| parse_time(t, "complete_after")).transpose()?,
        ..BatchOptions::default()
    };
    if let Some(size) = &input.max_message_size {
        options.max_message_size = Some(parse_size(size).map_err(|e| ApiError::bad_request(format!("max_message_size: {e}")))?);
    }
    if let Some(n) = input.bad_item_limit {
        options.bad_item_limit = n;
    }
    if let Some(n) = input.large_item_limit {
        options.large_item_limit = n;
    }
    match (&input.incremental_interval, input.no_incremental) {
        (Some(_), true) => return Err(ApiError::bad_request("give either incremental_interval or no_incremental, not both")),
        (None, true) => options.incremental_interval_secs = None,
        (Some(d), false) => {
            options.incremental_interval_secs =
                Some(parse_duration_secs(d).map_err(|e| ApiError::bad_request(format!("incremental_interval: {e}")))?)
        }
        (None, false) => {}
    }
    Ok(options)
}

/// A point in time: RFC 3339, or a delay from now (`30m`, `2h`, `7d`).
fn parse_time(s: &str, field: &str) -> Result<i64, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.timestamp());
    }
    let bad = || ApiError::bad_request(format!("{field} {s:?}: expected a time like 2026-12-01T22:00:00Z or a delay like 2h"));
    let secs = parse_duration_secs(s).map_err(|_| bad())?;
    let secs = i64::try_from(secs).map_err(|_| bad())?;
    chrono::Utc::now().timestamp().checked_add(secs).filter(|t| *t < 253_402_300_800).ok_or_else(bad)
}

/// Reads a new batch from JSON or from multipart/form-data.
async fn read_batch_input(request: Request) -> Result<BatchInput, ApiError> {
    if is_json(request.headers()) {
        let bytes = axum::body::Bytes::from_request(request, &()).await.map_err(body_rejection)?;
        return Ok(parse_json::<BatchCreate>(&bytes)?.into());
    }
    let mut form = multipart(request).await?;
    let mut input = BatchInput::default();
    let mut seen: Vec<String> = Vec::new();
    let (mut name, mut source, mut target, mut csv) = (None, None, None, None);
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let key = field.name().unwrap_or("").to_owned();
        let repeatable = matches!(key.as_str(), "exclude_folders" | "include_folders");
        if !repeatable && seen.contains(&key) {
            return Err(ApiError::bad_request(format!("the form field {key:?} is given twice")));
        }
        seen.push(key.clone());
        if key == "csv" {
            csv = Some(field.bytes().await.map_err(multipart_error)?.to_vec());
            continue;
        }
        let value = field.text().await.map_err(multipart_error)?;
        match key.as_str() {
            "name" => name = Some(value),
            "source" => source = Some(value),
            "target" => target = Some(value),
            "allow_unknown_columns" => input.allow_unknown_columns = form_bool(&key, &value)?,
            "autostart" => input.autostart = form_bool(&key, &value)?,
            "autocomplete" => input.autocomplete = form_bool(&key, &value)?,
            "no_incremental" => input.no_incremental = form_bool(&key, &value)?,
            "start_after" => input.start_after = Some(value),
            "complete_after" => input.complete_after = Some(value),
            "exclude_folders" => input.exclude_folders.push(value),
            "include_folders" => input.include_folders.push(value),
            "max_message_size" => input.max_message_size = Some(value),
            "bad_item_limit" => input.bad_item_limit = Some(form_u64(&key, &value)?),
            "large_item_limit" => input.large_item_limit = Some(form_u64(&key, &value)?),
            "incremental_interval" => input.incremental_interval = Some(value),
            "test_mailbox" => input.test_mailbox = Some(value),
            other => return Err(ApiError::bad_request(format!("unknown form field {other:?}"))),
        }
    }
    let missing = |what: &str| ApiError::bad_request(format!("the form field {what:?} is missing"));
    input.name = name.ok_or_else(|| missing("name"))?;
    input.source = source.ok_or_else(|| missing("source"))?;
    input.target = target.ok_or_else(|| missing("target"))?;
    input.csv = csv.ok_or_else(|| missing("csv"))?;
    Ok(input)
}

async fn multipart(request: Request) -> Result<Multipart, ApiError> {
    if media_type(request.headers()).as_deref() != Some("multipart/form-data") {
        return Err(unsupported_media_type("application/json or multipart/form-data"));
    }
    Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("the multipart body is not valid: {}", e.body_text())))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large (a CSV: 10 MB)")
    } else {
        ApiError::bad_request(format!("the multipart body is not valid: {}", e.body_text()))
    }
}

fn form_bool(key: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!("the form field {key:?} must be true or false"))),
    }
}

fn form_u64(key: &str, value: &str) -> Result<u64, ApiError> {
    value.trim().parse().map_err(|_| ApiError::bad_request(format!("the form field {key:?} must be a whole number")))
}

/// Show a batch with its users.
#[utoipa::path(get, path = "/api/v1/batches/{name}", tag = "batches",
    params(("name" = String, Path, description = "Batch name")),
    responses(
        (status = 200, description = "The batch and its users", body = BatchView),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn show(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> Result<Json<BatchView>, ApiError> {
    Ok(Json(BatchView::new(&s.engine.batch_state(&name).await?, true)))
}

macro_rules! action {
    ($fn:ident, $path:literal, $call:ident, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = "batches",
            params(("name" = String, Path, description = "Batch name")),
            responses(
                (status = 200, description = "The batch and its users after the change", body = BatchView),
                (status = 400, description = "Invalid path", body = ErrorBody),
                (status = 401, description = "No or bad token", body = ErrorBody),
                (status = 404, description = "No such batch", body = ErrorBody),
                (status = 409, description = "Not possible in the batch's state", body = ErrorBody),
                (status = 500, description = "Internal error", body = ErrorBody)))]
        pub async fn $fn(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> Result<Json<BatchView>, ApiError> {
            Ok(Json(BatchView::new(&s.engine.$call(&name).await?, true)))
        }
    };
}

action!(start, "/api/v1/batches/{name}/start", start_batch,
    "Start (or resume) a batch: its mailboxes are queued; the workers copy them.");
action!(stop, "/api/v1/batches/{name}/stop", stop_batch,
    "Stop a batch: mailboxes being copied stop at the next message, their state saved.");
action!(sync, "/api/v1/batches/{name}/sync", sync_batch,
    "Queue an incremental sync of the batch's mailboxes now.");
action!(complete, "/api/v1/batches/{name}/complete", complete_batch,
    "Complete a batch: a final incremental sync of every mailbox, then Completed.");

/// Remove a batch and everything recorded for it (the copies on the target
/// stay). Mailboxes being copied are stopped first; if they do not stop in
/// time the batch stays marked for removal and the answer is 409.
#[utoipa::path(delete, path = "/api/v1/batches/{name}", tag = "batches",
    params(("name" = String, Path, description = "Batch name")),
    responses(
        (status = 200, description = "Removed", body = Removed),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "Still being copied; marked for removal", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn remove(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> Result<Json<Removed>, ApiError> {
    let state = s.engine.batch_state(&name).await?;
    let name = state.batch.name.to_string();
    s.engine.remove_batch(&name, s.remove_wait).await?;
    Ok(Json(Removed { removed: name }))
}

/// Add mailboxes from a CSV (same rules and forms as creating a batch).
#[utoipa::path(post, path = "/api/v1/batches/{name}/users", tag = "batches",
    params(("name" = String, Path, description = "Batch name")),
    request_body(content(
        (AddUsers = "application/json"),
        (AddUsersForm = "multipart/form-data"))),
    responses(
        (status = 200, description = "How many were added, and the batch", body = UsersAdded),
        (status = 400, description = "Invalid input or CSV (`error.rows` lists every bad row)", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 409, description = "An address is already in an active batch, or the batch no longer takes users", body = ErrorBody),
        (status = 413, description = "Body too large (a CSV: 10 MB)", body = ErrorBody),
        (status = 415, description = "Neither JSON nor multipart/form-data", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn add_users(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    request: Request,
) -> Result<Json<UsersAdded>, ApiError> {
    let (csv, allow_unknown_columns) = if is_json(request.headers()) {
        let bytes = axum::body::Bytes::from_request(request, &()).await.map_err(body_rejection)?;
        let body: AddUsers = parse_json(&bytes)?;
        (body.csv.into_bytes(), body.allow_unknown_columns)
    } else {
        let mut form = multipart(request).await?;
        let (mut csv, mut allow, mut seen) = (None, None, Vec::new());
        while let Some(field) = form.next_field().await.map_err(multipart_error)? {
            let key = field.name().unwrap_or("").to_owned();
            if seen.contains(&key) {
                return Err(ApiError::bad_request(format!("the form field {key:?} is given twice")));
            }
            seen.push(key.clone());
            match key.as_str() {
                "csv" => csv = Some(field.bytes().await.map_err(multipart_error)?.to_vec()),
                "allow_unknown_columns" => allow = Some(form_bool(&key, &field.text().await.map_err(multipart_error)?)?),
                other => return Err(ApiError::bad_request(format!("unknown form field {other:?}"))),
            }
        }
        (csv.ok_or_else(|| ApiError::bad_request("the form field \"csv\" is missing"))?, allow.unwrap_or(false))
    };
    let (state, added) = s.engine.add_users(&name, &csv, CsvOptions { allow_unknown_columns }).await?;
    Ok(Json(UsersAdded { added, batch: BatchView::new(&state, true) }))
}

/// Per-mailbox statistics and skipped items, as JSON (default) or CSV (one
/// row per mailbox, then one per skipped item).
#[utoipa::path(get, path = "/api/v1/batches/{name}/report", tag = "batches",
    params(("name" = String, Path, description = "Batch name"), ReportQuery),
    responses(
        (status = 200, description = "The report", content(
            (Report = "application/json"),
            (String = "text/csv"))),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such batch", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn report(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let (state, users) = s.engine.batch_report(&name).await?;
    match q.format.unwrap_or_default() {
        ReportFormat::Json => Ok(Json(Report { batch: BatchView::new(&state, false), users }).into_response()),
        ReportFormat::Csv => {
            let text = mailferry_engine::views::report_csv(&users).map_err(|e| ApiError::internal(format!("cannot write the report: {e}")))?;
            let disposition = format!("attachment; filename=\"{}-report.csv\"", state.batch.name);
            Ok((
                [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
                text,
            )
                .into_response())
        }
    }
}

/// Verify the copy message by message (SHA-256, flags, INTERNALDATE) for
/// every mailbox of the batch, or one; answers when done.
#[utoipa::path(post, path = "/api/v1/batches/{name}/verify", tag = "batches",
    params(("name" = String, Path, description = "Batch name"), VerifyQuery),
    responses(
        (status = 200, description = "The verification; `clean` is false on any difference", body = VerifyView),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such batch or mailbox", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn verify(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> Result<Json<VerifyView>, ApiError> {
    let report = s.engine.verify(&name, q.user.as_deref()).await?;
    Ok(Json((&report).into()))
}
