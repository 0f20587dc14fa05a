//! REST routes of the mentor directory, blocks, safeguarding reports,
//! content-blind coordinator oversight and the programme's people list.

use super::extract::Body;
use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use super::HttpState;
use super::auth::Authed;
use super::error::{ApiError, ApiResult, parse_body};
use crate::mentoring::directory::{DirectoryFilter, ProfileUpdate};
use crate::mentoring::programme::PeopleFilter;
use crate::mentoring::reports::ReportRequest;
use crate::mentoring::safety::BlockRequest;
use crate::protocol::ErrorCode;

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/mentors", get(directory))
        .route("/mentors/{account}", get(mentor))
        .route("/me/mentor-profile", get(my_profile).put(put_profile))
        .route("/blocks", get(blocks).post(block))
        .route("/blocks/{conversation}/{member}", delete(unblock))
        .route("/reports", get(reports).post(report))
        .route("/reports/{id}", get(read_report))
        .route("/reports/{id}/close", post(close_report))
        .route("/me/reports", get(my_reports))
        .route("/oversight", get(oversight))
        .route("/people", get(people))
}

/// Lists and filters the directory. Reads only: browsing leaves no trace.
async fn directory(
    State(state): State<HttpState>,
    Authed(_): Authed,
    filter: Result<Query<DirectoryFilter>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(filter) = filter.map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidFrame,
            "filters are `specialty`, `language` and `accepting` (true/false)",
        )
    })?;
    let mentors = state.mentoring.directory(&filter).await?;
    Ok(Json(json!({ "mentors": mentors })))
}

async fn mentor(
    State(state): State<HttpState>,
    Authed(_): Authed,
    Path(account): Path<String>,
) -> ApiResult<Json<Value>> {
    let mentor = state.mentoring.mentor(&account).await?;
    Ok(Json(json!({ "mentor": mentor })))
}

async fn my_profile(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let profile = state.mentoring.my_mentor_profile(&principal).await?;
    Ok(Json(json!({ "profile": profile })))
}

async fn put_profile(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let update: ProfileUpdate = parse_body(&body)?;
    let profile = state
        .mentoring
        .update_mentor_profile(&principal, &update)
        .await?;
    Ok(Json(json!({ "profile": profile })))
}

async fn blocks(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let blocks = state.mentoring.blocks(&principal).await?;
    Ok(Json(json!({ "blocks": blocks })))
}

async fn block(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request: BlockRequest = parse_body(&body)?;
    let block = state.mentoring.block(&principal, &request).await?;
    Ok((StatusCode::CREATED, Json(json!({ "block": block }))))
}

async fn unblock(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((conversation, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .mentoring
        .unblock(&principal, &conversation, &member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn report(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request: ReportRequest = parse_body(&body)?;
    let report = state.mentoring.report(&principal, &request).await?;
    Ok((StatusCode::CREATED, Json(json!({ "report": report }))))
}

async fn my_reports(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let reports = state.mentoring.my_reports(&principal).await?;
    Ok(Json(json!({ "reports": reports })))
}

async fn reports(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let reports = state.mentoring.reports(&principal).await?;
    Ok(Json(json!({ "reports": reports })))
}

async fn read_report(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let report = state.mentoring.read_report(&principal, &id).await?;
    Ok(Json(json!({ "report": report })))
}

async fn close_report(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let report = state.mentoring.close_report(&principal, &id).await?;
    Ok(Json(json!({ "report": report })))
}

async fn oversight(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let oversight = state.mentoring.oversight(&principal).await?;
    Ok(Json(json!({ "oversight": oversight })))
}

async fn people(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    filter: Result<Query<PeopleFilter>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(filter) = filter
        .map_err(|_| ApiError::new(ErrorCode::InvalidFrame, "`role` is `mentee` or `mentor`"))?;
    let people = state.mentoring.people(&principal, &filter).await?;
    Ok(Json(json!({ "people": people })))
}
