//! The OpenAPI 3.1 document of the REST API, served at `/api/openapi.json`.
//!
//! Paths, parameters and statuses come from the handlers' `#[utoipa::path]`
//! annotations; every body's schema from its Rust type (see [`crate::contract`]). Every
//! refusal, on any route, is the [`ErrorBody`] with a stable code (its status follows
//! from the code), so each operation documents `4XX` and `5XX` with that body.

use std::sync::LazyLock;

use serde_json::{Value, json};
use utoipa::OpenApi;

use super::bodies::*;
use super::mentoring::{AcceptBody, EndBody};
use super::ops::DevLogin;
use super::sfu::TurnRequest;
use super::{api, digest, mentoring, notify, ops, safety, sfu};
use crate::contract::{SCHEMAS, Schemas};
use crate::mentoring::digest::EmailDigestSettings;
use crate::mentoring::directory::ProfileUpdate;
use crate::mentoring::membership::RoleRequest;
use crate::mentoring::presence::PresenceChoice;
use crate::mentoring::relationships::{Assignment, MentorOffer, MentorRequest};
use crate::mentoring::reports::ReportRequest;
use crate::mentoring::rooms::{InviteRequest, JoinRequest, RoomRequest, RoomSettingsRequest};
use crate::mentoring::safety::BlockRequest;
use crate::protocol::notify::{
    NotificationPreferences, PushSubscriptionBody, PushSubscriptionRequest,
};
use crate::protocol::server::Settings;
use crate::protocol::webrtc::IceConfig;
use crate::signalling::sfu::SfuTurn;

/// Lets a handler annotation name a body type; the schema itself is schemars', put in
/// place by [`build`]. `sent` types are described as serialised, `received` as parsed.
macro_rules! bodies_of {
    (sent: $($sent:ty),+ ; received: $($received:ty),+ $(;)?) => {
        $(bodies_of!(@bridge $sent);)+
        $(bodies_of!(@bridge $received);)+

        fn collect(schemas: &mut Schemas) {
            $(schemas.sent::<$sent>();)+
            $(schemas.received::<$received>();)+
        }
    };
    (@bridge $ty:ty) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(
                    utoipa::openapi::schema::Object::new(),
                ))
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                <$ty as schemars::JsonSchema>::schema_name()
            }
        }
    };
}

bodies_of! {
    sent: MeBody, Settings, ConversationsBody, ConversationBody, HistoryBody, ThreadsBody,
        RelationshipsBody, RelationshipBody, IceConfig, InvitationBody, InvitationsBody,
        InviteCodeBody, LeftBody, DeclinedBody, MemberBody, MentorsBody, MentorBody, ProfileBody,
        BlocksBody, BlockBody, ReportReceiptBody, ReportReceiptsBody, FiledReportsBody,
        ReportBody, OversightBody, PeopleBody, DevLoginBody, InfoBody, ReadyBody, ErrorBody,
        SfuTurn, PushSubscriptionBody, NotificationPreferences, EmailDigestSettings;
    received: MentorRequest, MentorOffer, Assignment, AcceptBody, EndBody, RoomRequest,
        RoomSettingsRequest, JoinRequest, InviteRequest, RoleRequest, ProfileUpdate,
        BlockRequest, ReportRequest, DevLogin, TurnRequest, PresenceChoice, PushSubscriptionRequest;
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mentorhub REST API",
        description = "Accounts, conversations and history, relationships, rooms, the mentor \
            directory, safety and oversight. Live traffic (messages, presence, calls) goes over \
            the WebSocket at /ws, described by /api/asyncapi.json; server/PROTOCOL.md has the \
            prose. Every refusal answers `{\"error\": {\"code\", \"message\"}}` with a stable \
            code; nothing was changed.",
    ),
    paths(
        api::me,
        api::put_settings,
        api::conversations,
        api::conversation,
        api::messages,
        api::threads,
        api::relationships,
        api::request_mentor,
        api::ice_servers,
        mentoring::offer,
        mentoring::assign,
        mentoring::accept,
        mentoring::decline,
        mentoring::withdraw,
        mentoring::end,
        mentoring::create_room,
        mentoring::join,
        mentoring::room_settings,
        mentoring::invite,
        mentoring::invite_code,
        mentoring::agree,
        mentoring::leave,
        mentoring::remove,
        mentoring::mute,
        mentoring::unmute,
        mentoring::role,
        mentoring::invitations,
        mentoring::decline_invitation,
        mentoring::reveal,
        mentoring::presence,
        safety::directory,
        safety::mentor,
        safety::my_profile,
        safety::put_profile,
        safety::blocks,
        safety::block,
        safety::unblock,
        safety::report,
        safety::my_reports,
        safety::reports,
        safety::read_report,
        safety::close_report,
        safety::oversight,
        safety::people,
        notify::subscribe,
        notify::unsubscribe,
        notify::preferences,
        notify::put_preferences,
        ops::info,
        ops::dev_login,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        sfu::turn_credentials,
        digest::choice,
        digest::put_choice,
        digest::unsubscribe_page,
        digest::unsubscribe,
        openapi_json,
        asyncapi_json,
    )
)]
struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of the REST API")))]
pub async fn openapi_json() -> axum::Json<&'static Value> {
    axum::Json(document())
}

/// The AsyncAPI 3 document of the WebSocket at `/ws`.
#[utoipa::path(get, path = "/api/asyncapi.json", tag = "operations",
    responses((status = 200, description = "The AsyncAPI 3 document of the WebSocket")))]
pub async fn asyncapi_json() -> axum::Json<&'static Value> {
    axum::Json(crate::contract::asyncapi::document())
}

/// The document, generated once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(build);
    &DOCUMENT
}

/// Operations whose request body may be left out.
const OPTIONAL_BODIES: [(&str, &str); 2] = [
    ("/api/relationships/{id}/accept", "post"),
    ("/api/relationships/{id}/end", "post"),
];

fn build() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let mut schemas = Schemas::default();
    collect(&mut schemas);
    let error = json!({
        "description": "Refused; nothing was changed. `error.code` says why (see ErrorCode).",
        "content": { "application/json": { "schema": { "$ref": format!("{SCHEMAS}ErrorBody") } } },
    });
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if OPTIONAL_BODIES.contains(&(path.as_str(), method.as_str())) {
                    operation["requestBody"]["required"] = false.into();
                }
                let responses = &mut operation["responses"];
                responses["4XX"] = error.clone();
                responses["5XX"] = error.clone();
            }
        }
    }
    document["components"] = json!({
        "schemas": schemas.into_definitions(),
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "The identity provider's token (HS256 or RS256/ES256 per \
                    deployment); `POST /api/dev/login` mints one on a `--dev` server.",
            },
        },
    });
    document
}
