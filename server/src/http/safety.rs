//! REST routes of the mentor directory, blocks, safeguarding reports,
//! content-blind coordinator oversight and the programme's people list.

use super::HttpState;
use super::auth::Authed;
use super::bodies::{
    BlockBody, BlocksBody, FiledReportsBody, MentorBody, MentorsBody, OversightBody, PeopleBody,
    ProfileBody, ReportBody, ReportReceiptBody, ReportReceiptsBody,
};
use super::error::{ApiError, ApiResult, parse_body};
use super::extract::Body;
use crate::mentoring::directory::{DirectoryFilter, ProfileUpdate};
use crate::mentoring::programme::PeopleFilter;
use crate::mentoring::reports::ReportRequest;
use crate::mentoring::safety::BlockRequest;
use crate::protocol::ErrorCode;
use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

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
#[utoipa::path(get, path = "/api/mentors", tag = "directory", params(("specialty" = Option<String>, Query, description = "Part of the specialty, or words matching its words"), ("language" = Option<String>, Query, description = "A language tag, its primary tag or the language's name"), ("accepting" = Option<bool>, Query, description = "`true`: only mentors with a free place; `false`: only those without")), responses((status = 200, body = MentorsBody)), security(("bearer" = [])))]
pub(super) async fn directory(
    State(state): State<HttpState>,
    Authed(_): Authed,
    filter: Result<Query<DirectoryFilter>, QueryRejection>,
) -> ApiResult<Json<MentorsBody>> {
    let Query(filter) = filter.map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidFrame,
            "filters are `specialty`, `language` and `accepting` (true/false)",
        )
    })?;
    let mentors = state.mentoring.directory(&filter).await?;
    Ok(Json(MentorsBody { mentors }))
}

/// One mentor of the directory.
#[utoipa::path(get, path = "/api/mentors/{account}", tag = "directory", params(("account" = String, Path, description = "The mentor's account id")), responses((status = 200, body = MentorBody)), security(("bearer" = [])))]
pub(super) async fn mentor(
    State(state): State<HttpState>,
    Authed(_): Authed,
    Path(account): Path<String>,
) -> ApiResult<Json<MentorBody>> {
    let mentor = state.mentoring.mentor(&account).await?;
    Ok(Json(MentorBody { mentor }))
}

/// The caller's own directory profile, if published.
#[utoipa::path(get, path = "/api/me/mentor-profile", tag = "directory", responses((status = 200, body = ProfileBody)), security(("bearer" = [])))]
pub(super) async fn my_profile(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<ProfileBody>> {
    let profile = state.mentoring.my_mentor_profile(&principal).await?;
    Ok(Json(ProfileBody { profile }))
}

/// Mentors: publishes or updates the caller's directory profile.
#[utoipa::path(put, path = "/api/me/mentor-profile", tag = "directory", request_body = ProfileUpdate, responses((status = 200, body = ProfileBody)), security(("bearer" = [])))]
pub(super) async fn put_profile(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Json<ProfileBody>> {
    let update: ProfileUpdate = parse_body(&body)?;
    let profile = state
        .mentoring
        .update_mentor_profile(&principal, &update)
        .await?;
    Ok(Json(ProfileBody {
        profile: Some(profile),
    }))
}

/// The members the caller blocked.
#[utoipa::path(get, path = "/api/blocks", tag = "safety", responses((status = 200, body = BlocksBody)), security(("bearer" = [])))]
pub(super) async fn blocks(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<BlocksBody>> {
    let blocks = state.mentoring.blocks(&principal).await?;
    Ok(Json(BlocksBody { blocks }))
}

/// Blocks the account behind a member of a conversation the caller is in.
#[utoipa::path(post, path = "/api/blocks", tag = "safety", request_body = BlockRequest, responses((status = 201, body = BlockBody)), security(("bearer" = [])))]
pub(super) async fn block(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<BlockBody>)> {
    let request: BlockRequest = parse_body(&body)?;
    let block = state.mentoring.block(&principal, &request).await?;
    Ok((StatusCode::CREATED, Json(BlockBody { block })))
}

/// Lifts a block.
#[utoipa::path(delete, path = "/api/blocks/{conversation}/{member}", tag = "safety", params(("conversation" = String, Path, description = "The conversation of the block"), ("member" = String, Path, description = "The blocked member")), responses((status = 204, description = "Unblocked")), security(("bearer" = [])))]
pub(super) async fn unblock(
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

/// Reports a message to the safeguarding role.
#[utoipa::path(post, path = "/api/reports", tag = "safety", request_body = ReportRequest, responses((status = 201, body = ReportReceiptBody)), security(("bearer" = [])))]
pub(super) async fn report(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<(StatusCode, Json<ReportReceiptBody>)> {
    let request: ReportRequest = parse_body(&body)?;
    let report = state.mentoring.report(&principal, &request).await?;
    Ok((StatusCode::CREATED, Json(ReportReceiptBody { report })))
}

/// The reports the caller filed.
#[utoipa::path(get, path = "/api/me/reports", tag = "safety", responses((status = 200, body = FiledReportsBody)), security(("bearer" = [])))]
pub(super) async fn my_reports(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<FiledReportsBody>> {
    let reports = state.mentoring.my_reports(&principal).await?;
    Ok(Json(FiledReportsBody { reports }))
}

/// Safeguarding: every report, without content.
#[utoipa::path(get, path = "/api/reports", tag = "safety", responses((status = 200, body = ReportReceiptsBody)), security(("bearer" = [])))]
pub(super) async fn reports(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<ReportReceiptsBody>> {
    let reports = state.mentoring.reports(&principal).await?;
    Ok(Json(ReportReceiptsBody { reports }))
}

/// Safeguarding: one report with its messages (the read is recorded).
#[utoipa::path(get, path = "/api/reports/{id}", tag = "safety", params(("id" = String, Path, description = "A report id")), responses((status = 200, body = ReportBody)), security(("bearer" = [])))]
pub(super) async fn read_report(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportBody>> {
    let report = state.mentoring.read_report(&principal, &id).await?;
    Ok(Json(ReportBody { report }))
}

/// Safeguarding: marks a report handled.
#[utoipa::path(post, path = "/api/reports/{id}/close", tag = "safety", params(("id" = String, Path, description = "A report id")), responses((status = 200, body = ReportBody)), security(("bearer" = [])))]
pub(super) async fn close_report(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportBody>> {
    let report = state.mentoring.close_report(&principal, &id).await?;
    Ok(Json(ReportBody { report }))
}

/// Coordinators: the programme's content-blind overview.
#[utoipa::path(get, path = "/api/oversight", tag = "programme", responses((status = 200, body = OversightBody)), security(("bearer" = [])))]
pub(super) async fn oversight(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<OversightBody>> {
    let oversight = state.mentoring.oversight(&principal).await?;
    Ok(Json(OversightBody { oversight }))
}

/// Coordinators: accounts with one programme role.
#[utoipa::path(get, path = "/api/people", tag = "programme", params(("role" = String, Query, description = "`mentee` or `mentor`")), responses((status = 200, body = PeopleBody)), security(("bearer" = [])))]
pub(super) async fn people(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    filter: Result<Query<PeopleFilter>, QueryRejection>,
) -> ApiResult<Json<PeopleBody>> {
    let Query(filter) = filter
        .map_err(|_| ApiError::new(ErrorCode::InvalidFrame, "`role` is `mentee` or `mentor`"))?;
    let people = state.mentoring.people(&principal, &filter).await?;
    Ok(Json(PeopleBody { people }))
}
