//! The JSON bodies REST answers with, one type each, so the OpenAPI document's
//! response schemas are generated from what the handlers really serialise.

use schemars::JsonSchema;
use serde::Serialize;

use crate::ids::{AccountId, ConversationId};
use crate::mentoring::Oversight;
use crate::protocol::ErrorCode;
use crate::protocol::mentoring::{
    BlockView, FiledReportView, InvitationView, InviteCodeView, MentorProfileView, ProgrammePerson,
    ReportReceipt, ReportView,
};
use crate::protocol::server::{
    AccountView, ConversationSummary, EventFrame, MemberView, RelationshipView, Settings,
    ThreadSummary,
};

/// Declares bodies that wrap their content under one or more named fields.
macro_rules! bodies {
    ($( $(#[$meta:meta])* $name:ident { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),+ $(,)? } )+) => {$(
        $(#[$meta])*
        #[derive(Debug, Serialize, JsonSchema)]
        pub struct $name { $( $(#[$fmeta])* pub $field: $ty, )+ }
    )+};
}

bodies! {
    /// The caller's account and settings.
    MeBody { account: AccountView, settings: Settings }
    ConversationsBody { conversations: Vec<ConversationSummary> }
    ConversationBody { conversation: ConversationSummary }
    /// One page of a conversation's timeline.
    HistoryBody {
        conversation: ConversationId,
        events: Vec<EventFrame>,
        /// More events exist beyond this page in the direction asked.
        has_more: bool,
        /// The page was cut short of `limit` by its size; ask for the rest.
        truncated: bool,
    }
    ThreadsBody { conversation: ConversationId, threads: Vec<ThreadSummary> }
    RelationshipsBody { relationships: Vec<RelationshipView> }
    RelationshipBody { relationship: RelationshipView }
    InvitationBody { invitation: InvitationView }
    InvitationsBody { invitations: Vec<InvitationView> }
    InviteCodeBody { invite_code: InviteCodeView }
    /// The room left.
    LeftBody { left: String }
    /// The room whose invitation was declined.
    DeclinedBody { declined: String }
    MemberBody { member: MemberView }
    MentorsBody { mentors: Vec<MentorProfileView> }
    MentorBody { mentor: MentorProfileView }
    /// The caller's own directory profile (`null` before one is published).
    ProfileBody { profile: Option<MentorProfileView> }
    BlocksBody { blocks: Vec<BlockView> }
    BlockBody { block: BlockView }
    /// What a reporter is told: no content.
    ReportReceiptBody { report: ReportReceipt }
    ReportReceiptsBody { reports: Vec<ReportReceipt> }
    FiledReportsBody { reports: Vec<FiledReportView> }
    ReportBody { report: ReportView }
    OversightBody { oversight: Oversight }
    PeopleBody { people: Vec<ProgrammePerson> }
    /// A token for the name and role asked (servers started with `--dev` only).
    DevLoginBody { token: String, account: AccountId }
    /// What any visitor may know before signing in.
    InfoBody {
        /// The WebSocket protocol version.
        protocol: u32,
        /// `--dev` sign-in is offered.
        dev: bool,
        /// Web Push, when the server sends it: the key a service worker subscribes with.
        #[serde(skip_serializing_if = "Option::is_none")]
        push: Option<crate::protocol::notify::PushInfo>,
        /// Sign-in at the institution's identity provider (absent when not configured).
        #[serde(skip_serializing_if = "Option::is_none")]
        sign_in: Option<SignInBody>,
    }
    /// Where the node stands.
    ReadyBody {
        ready: bool,
        /// `up`, or `down: …`.
        store: String,
        /// `up`, or `down: …`.
        bus: String,
        bus_kind: String,
        draining: bool,
        connections: usize,
        node: String,
    }
    /// Every refused REST request: nothing was changed.
    ErrorBody { error: ErrorDetail }
}

/// How the web client signs people in at the identity provider: OpenID Connect
/// authorization code flow with PKCE, as a public client (no secret).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SignInBody {
    /// The provider's issuer; its `/.well-known/openid-configuration` names the endpoints.
    pub issuer: String,
    /// The web client's id at the provider.
    pub client_id: String,
    /// Scopes to ask for, space-separated.
    pub scopes: String,
    /// The resource indicator (RFC 8707) to name, so the access token is for this server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl From<&crate::config::SignIn> for SignInBody {
    fn from(s: &crate::config::SignIn) -> Self {
        SignInBody {
            issuer: s.issuer.clone(),
            client_id: s.client_id.clone(),
            scopes: s.scopes.clone(),
            resource: s.resource.clone(),
        }
    }
}

/// Why a request was refused: the same codes as WebSocket `error` frames.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For humans; never contains submitted content.
    pub message: String,
    /// `rate_limited`: wait this long before retrying (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}
