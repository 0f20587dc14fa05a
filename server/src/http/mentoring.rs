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

use super::HttpState;
use super::auth::Authed;
use super::bodies::{
    ConversationBody, DeclinedBody, InvitationBody, InvitationsBody, InviteCodeBody, LeftBody,
    MemberBody, RelationshipBody,
};
use super::error::{ApiResult, parse_body};
use crate::mentoring::membership::RoleRequest;
use crate::mentoring::presence::PresenceChoice;
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
        .route("/conversations/{id}/presence", put(presence))
}

/// A 201 answer.
type Created<T> = (StatusCode, Json<T>);

/// A JSON body that may be absent altogether (then every field takes its default).
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_body(body)
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptBody {
    /// Mentees: appear under this name in the relationship.
    #[serde(default)]
    pub pseudonym: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EndBody {
    /// A private note only the ender will ever see.
    #[serde(default)]
    pub note: Option<String>,
}

/// A mentor offers mentoring to a mentee (by account, or as a member of a shared room).
#[utoipa::path(post, path = "/api/relationships/offers", tag = "relationships", request_body = MentorOffer, responses((status = 201, body = RelationshipBody)), security(("bearer" = [])))]
pub(super) async fn offer(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Created<RelationshipBody>> {
    let offer: MentorOffer = parse_body(&body)?;
    let relationship = state.mentoring.offer_mentoring(&principal, &offer).await?;
    Ok((StatusCode::CREATED, Json(RelationshipBody { relationship })))
}

/// A coordinator pairs a mentee with one or two mentors.
#[utoipa::path(post, path = "/api/relationships/assignments", tag = "relationships", request_body = Assignment, responses((status = 201, body = RelationshipBody)), security(("bearer" = [])))]
pub(super) async fn assign(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Created<RelationshipBody>> {
    let assignment: Assignment = parse_body(&body)?;
    let relationship = state.mentoring.assign(&principal, &assignment).await?;
    Ok((StatusCode::CREATED, Json(RelationshipBody { relationship })))
}

/// A party accepts; the body is optional.
#[utoipa::path(post, path = "/api/relationships/{id}/accept", tag = "relationships", params(("id" = String, Path, description = "A relationship id")), request_body = AcceptBody, responses((status = 200, body = RelationshipBody)), security(("bearer" = [])))]
pub(super) async fn accept(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<RelationshipBody>> {
    let answer: AcceptBody = optional_body(&body)?;
    let relationship = state
        .mentoring
        .respond(&principal, &id, true, answer.pseudonym.as_deref())
        .await?;
    Ok(Json(RelationshipBody { relationship }))
}

/// A party declines.
#[utoipa::path(post, path = "/api/relationships/{id}/decline", tag = "relationships", params(("id" = String, Path, description = "A relationship id")), responses((status = 200, body = RelationshipBody)), security(("bearer" = [])))]
pub(super) async fn decline(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<RelationshipBody>> {
    let relationship = state
        .mentoring
        .respond(&principal, &id, false, None)
        .await?;
    Ok(Json(RelationshipBody { relationship }))
}

/// The initiator takes an unanswered request back.
#[utoipa::path(post, path = "/api/relationships/{id}/withdraw", tag = "relationships", params(("id" = String, Path, description = "A relationship id")), responses((status = 200, body = RelationshipBody)), security(("bearer" = [])))]
pub(super) async fn withdraw(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<RelationshipBody>> {
    let relationship = state.mentoring.withdraw(&principal, &id).await?;
    Ok(Json(RelationshipBody { relationship }))
}

/// A party ends an active relationship; the body is optional.
#[utoipa::path(post, path = "/api/relationships/{id}/end", tag = "relationships", params(("id" = String, Path, description = "A relationship id")), request_body = EndBody, responses((status = 200, body = RelationshipBody)), security(("bearer" = [])))]
pub(super) async fn end(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<RelationshipBody>> {
    let end: EndBody = optional_body(&body)?;
    let relationship = state
        .mentoring
        .end_relationship(&principal, &id, end.note.as_deref())
        .await?;
    Ok(Json(RelationshipBody { relationship }))
}

/// Creates a room; the caller is its first facilitator.
#[utoipa::path(post, path = "/api/rooms", tag = "rooms", request_body = RoomRequest, responses((status = 201, body = ConversationBody)), security(("bearer" = [])))]
pub(super) async fn create_room(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Created<ConversationBody>> {
    let request: RoomRequest = parse_body(&body)?;
    let room = state.mentoring.create_room(&principal, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConversationBody { conversation: room }),
    ))
}

/// A facilitator changes the room's settings.
#[utoipa::path(put, path = "/api/rooms/{id}/settings", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id")), request_body = RoomSettingsRequest, responses((status = 200, body = ConversationBody)), security(("bearer" = [])))]
pub(super) async fn room_settings(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<ConversationBody>> {
    let request: RoomSettingsRequest = parse_body(&body)?;
    let room = state
        .mentoring
        .update_room_settings(&principal, &id, &request)
        .await?;
    Ok(Json(ConversationBody { conversation: room }))
}

/// Joins a room with an invite code or a pending invitation.
#[utoipa::path(post, path = "/api/rooms/join", tag = "rooms", request_body = JoinRequest, responses((status = 200, body = ConversationBody)), security(("bearer" = [])))]
pub(super) async fn join(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Body(body): Body,
) -> ApiResult<Json<ConversationBody>> {
    let request: JoinRequest = parse_body(&body)?;
    let room = state.mentoring.join_room(&principal, &request).await?;
    Ok(Json(ConversationBody { conversation: room }))
}

/// A facilitator invites one person.
#[utoipa::path(post, path = "/api/rooms/{id}/invitations", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id")), request_body = InviteRequest, responses((status = 201, body = InvitationBody)), security(("bearer" = [])))]
pub(super) async fn invite(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Created<InvitationBody>> {
    let request: InviteRequest = parse_body(&body)?;
    let invitation = state.mentoring.invite(&principal, &id, &request).await?;
    Ok((StatusCode::CREATED, Json(InvitationBody { invitation })))
}

/// A facilitator makes a single-use invite code.
#[utoipa::path(post, path = "/api/rooms/{id}/invite-codes", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id")), responses((status = 201, body = InviteCodeBody)), security(("bearer" = [])))]
pub(super) async fn invite_code(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Created<InviteCodeBody>> {
    let code = state.mentoring.invite_code(&principal, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(InviteCodeBody { invite_code: code }),
    ))
}

/// The caller accepts the room's confidentiality agreement.
#[utoipa::path(post, path = "/api/rooms/{id}/agreement", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id")), responses((status = 200, body = ConversationBody)), security(("bearer" = [])))]
pub(super) async fn agree(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationBody>> {
    let room = state.mentoring.accept_agreement(&principal, &id).await?;
    Ok(Json(ConversationBody { conversation: room }))
}

/// The caller leaves the room.
#[utoipa::path(post, path = "/api/rooms/{id}/leave", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id")), responses((status = 200, body = LeftBody)), security(("bearer" = [])))]
pub(super) async fn leave(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<LeftBody>> {
    state.mentoring.leave_room(&principal, &id).await?;
    Ok(Json(LeftBody { left: id }))
}

/// A facilitator removes a member.
#[utoipa::path(post, path = "/api/rooms/{id}/members/{member}/remove", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id"), ("member" = String, Path, description = "A member id in that room")), responses((status = 200, body = MemberBody)), security(("bearer" = [])))]
pub(super) async fn remove(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<MemberBody>> {
    let member = state
        .mentoring
        .remove_member(&principal, &id, &member)
        .await?;
    Ok(Json(MemberBody { member }))
}

/// A facilitator mutes a member.
#[utoipa::path(post, path = "/api/rooms/{id}/members/{member}/mute", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id"), ("member" = String, Path, description = "A member id in that room")), responses((status = 200, body = MemberBody)), security(("bearer" = [])))]
pub(super) async fn mute(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<MemberBody>> {
    let member = state
        .mentoring
        .mute_member(&principal, &id, &member, true)
        .await?;
    Ok(Json(MemberBody { member }))
}

/// A facilitator unmutes a member.
#[utoipa::path(post, path = "/api/rooms/{id}/members/{member}/unmute", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id"), ("member" = String, Path, description = "A member id in that room")), responses((status = 200, body = MemberBody)), security(("bearer" = [])))]
pub(super) async fn unmute(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<MemberBody>> {
    let member = state
        .mentoring
        .mute_member(&principal, &id, &member, false)
        .await?;
    Ok(Json(MemberBody { member }))
}

/// A facilitator makes a member a facilitator, or a facilitator a member.
#[utoipa::path(post, path = "/api/rooms/{id}/members/{member}/role", tag = "rooms", params(("id" = String, Path, description = "A room (conversation) id"), ("member" = String, Path, description = "A member id in that room")), request_body = RoleRequest, responses((status = 200, body = MemberBody)), security(("bearer" = [])))]
pub(super) async fn role(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path((id, member)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult<Json<MemberBody>> {
    let request: RoleRequest = parse_body(&body)?;
    let member = state
        .mentoring
        .set_member_role(&principal, &id, &member, &request)
        .await?;
    Ok(Json(MemberBody { member }))
}

/// The caller's pending room invitations.
#[utoipa::path(get, path = "/api/invitations", tag = "rooms", responses((status = 200, body = InvitationsBody)), security(("bearer" = [])))]
pub(super) async fn invitations(
    State(state): State<HttpState>,
    Authed(principal): Authed,
) -> ApiResult<Json<InvitationsBody>> {
    let invitations = state.mentoring.invitations(&principal).await?;
    Ok(Json(InvitationsBody { invitations }))
}

/// Declines a room invitation.
#[utoipa::path(post, path = "/api/invitations/{room}/decline", tag = "rooms", params(("room" = String, Path, description = "The room of the invitation")), responses((status = 200, body = DeclinedBody)), security(("bearer" = [])))]
pub(super) async fn decline_invitation(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(room): Path<String>,
) -> ApiResult<Json<DeclinedBody>> {
    state
        .mentoring
        .decline_invitation(&principal, &room)
        .await?;
    Ok(Json(DeclinedBody { declined: room }))
}

/// A pseudonymous member shows their own name in this conversation.
#[utoipa::path(post, path = "/api/conversations/{id}/reveal", tag = "conversations", params(("id" = String, Path, description = "A conversation id")), responses((status = 200, body = ConversationBody)), security(("bearer" = [])))]
pub(super) async fn reveal(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationBody>> {
    let conversation = state.mentoring.reveal(&principal, &id).await?;
    Ok(Json(ConversationBody { conversation }))
}

/// Shows or hides the caller's presence in one conversation (off by default where the
/// caller is pseudonymous).
#[utoipa::path(put, path = "/api/conversations/{id}/presence", tag = "conversations", params(("id" = String, Path, description = "A conversation id")), request_body = PresenceChoice, responses((status = 200, body = ConversationBody)), security(("bearer" = [])))]
pub(super) async fn presence(
    State(state): State<HttpState>,
    Authed(principal): Authed,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Json<ConversationBody>> {
    let choice: PresenceChoice = parse_body(&body)?;
    let conversation = state
        .mentoring
        .choose_presence(&principal, &id, choice.shown)
        .await?;
    Ok(Json(ConversationBody { conversation }))
}
