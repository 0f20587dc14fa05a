//! REST routes of the mentoring model's life-cycle actions: relationship offers,
//! assignments, answers, withdrawal and ending; rooms, invitations, joining and member
//! changes; revealing one's identity. Live effects reach sockets as frames.

use super::extract::Body;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

use super::HttpState;
use super::auth::Authed;
use super::error::{ApiResult, parse_body};
use crate::mentoring::membership::RoleRequest;
use crate::mentoring::relationships::{Assignment, MentorOffer};
use crate::mentoring::rooms::{InviteRequest, JoinRequest, RoomRequest, RoomSettingsRequest};

pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/relationships/offers", post(offer))
        .route("/relationships/assignments", post(assign))
        .route("/relationships/{id}/accept", post(accept))
        .route("/relationships/{id}/decline", post(decline))
        .route("/relationships/{id}/withdraw", post(withdraw))
        .route("/relationships/{id}/end", post(end))
        .route("/rooms", post(create_room))
        .route("/rooms/join", post(join))
        .route("/rooms/{id}/settings", put(room_settings))
        .route("/rooms/{id}/invitations", post(invite))
        .route("/rooms/{id}/invite-codes", post(invite_code))
        .route("/rooms/{id}/agreement", post(agree))
        .route("/rooms/{id}/leave", post(leave))
        .route("/rooms/{id}/members/{member}/remove", post(remove))
        .route("/rooms/{id}/members/{member}/mute", post(mute))
        .route("/rooms/{id}/members/{member}/unmute", post(unmute))
        .route("/rooms/{id}/members/{member}/role", post(role))
        .route("/invitations", get(invitations))
        .route("/invitations/{room}/decline", post(decline_invitation))
        .route("/conversations/{id}/reveal", post(reveal))
}

/// A JSON body that may be absent altogether (then every field takes its default).
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_body(body)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    /// Mentees: appear under this name in the relationship.
    #[serde(default)]
    pseudonym: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndBody {
    /// A private note only the ender will ever see.
    #[serde(default)]
    note: Option<String>,
}

type Created = (StatusCode, Json<Value>);

async fn offer(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Created> {
    let offer: MentorOffer = parse_body(&body)?;
    let relationship = state.mentoring.offer_mentoring(&principal, &offer).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "relationship": relationship })),
    ))
}

async fn assign(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Created> {
    let assignment: Assignment = parse_body(&body)?;
    let relationship = state.mentoring.assign(&principal, &assignment).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "relationship": relationship })),
    ))
}

async fn accept(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let answer: AcceptBody = optional_body(&body)?;
    let relationship = state
        .mentoring
        .respond(&principal, &id, true, answer.pseudonym.as_deref())
        .await?;
    Ok(Json(json!({ "relationship": relationship })))
}

async fn decline(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let relationship = state
        .mentoring
        .respond(&principal, &id, false, None)
        .await?;
    Ok(Json(json!({ "relationship": relationship })))
}

async fn withdraw(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let relationship = state.mentoring.withdraw(&principal, &id).await?;
    Ok(Json(json!({ "relationship": relationship })))
}

async fn end(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let end: EndBody = optional_body(&body)?;
    let relationship = state
        .mentoring
        .end_relationship(&principal, &id, end.note.as_deref())
        .await?;
    Ok(Json(json!({ "relationship": relationship })))
}

async fn create_room(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Created> {
    let request: RoomRequest = parse_body(&body)?;
    let room = state.mentoring.create_room(&principal, &request).await?;
    Ok((StatusCode::CREATED, Json(json!({ "conversation": room }))))
}

async fn room_settings(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let request: RoomSettingsRequest = parse_body(&body)?;
    let room = state
        .mentoring
        .update_room_settings(&principal, &id, &request)
        .await?;
    Ok(Json(json!({ "conversation": room })))
}

async fn join(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let request: JoinRequest = parse_body(&body)?;
    let room = state.mentoring.join_room(&principal, &request).await?;
    Ok(Json(json!({ "conversation": room })))
}

async fn invite(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Created> {
    let request: InviteRequest = parse_body(&body)?;
    let invitation = state.mentoring.invite(&principal, &id, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "invitation": invitation })),
    ))
}

async fn invite_code(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Created> {
    let code = state.mentoring.invite_code(&principal, &id).await?;
    Ok((StatusCode::CREATED, Json(json!({ "invite_code": code }))))
}

async fn agree(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let room = state.mentoring.accept_agreement(&principal, &id).await?;
    Ok(Json(json!({ "conversation": room })))
}

async fn leave(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state.mentoring.leave_room(&principal, &id).await?;
    Ok(Json(json!({ "left": id })))
}

async fn remove(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let member = state
        .mentoring
        .remove_member(&principal, &id, &member)
        .await?;
    Ok(Json(json!({ "member": member })))
}

async fn mute(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let member = state
        .mentoring
        .mute_member(&principal, &id, &member, true)
        .await?;
    Ok(Json(json!({ "member": member })))
}

async fn unmute(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let member = state
        .mentoring
        .mute_member(&principal, &id, &member, false)
        .await?;
    Ok(Json(json!({ "member": member })))
}

async fn role(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<Value>> {
    let request: RoleRequest = parse_body(&body)?;
    let member = state
        .mentoring
        .set_member_role(&principal, &id, &member, &request)
        .await?;
    Ok(Json(json!({ "member": member })))
}

async fn invitations(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<Value>> {
    let invitations = state.mentoring.invitations(&principal).await?;
    Ok(Json(json!({ "invitations": invitations })))
}

async fn decline_invitation(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .mentoring
        .decline_invitation(&principal, &room)
        .await?;
    Ok(Json(json!({ "declined": room })))
}

async fn reveal(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let conversation = state.mentoring.reveal(&principal, &id).await?;
    Ok(Json(json!({ "conversation": conversation })))
}
