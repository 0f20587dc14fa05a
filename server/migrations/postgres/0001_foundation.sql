-- Foundation schema. Times are Unix milliseconds; flags are 0/1 integers (the same
-- schema shape as migrations/postgres so one set of SQL serves both engines).

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    roles             TEXT NOT NULL,            -- comma-separated role names
    read_receipts     BIGINT NOT NULL DEFAULT 0,
    default_pseudonym TEXT,
    created_at        BIGINT NOT NULL,
    seen_at           BIGINT NOT NULL
);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,              -- relationship | room
    state           TEXT NOT NULL,              -- pending | active | read_only | closed
    last_seq        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    created_by      TEXT,
    title           TEXT,
    room_kind       TEXT,                       -- group | peer
    agreement       TEXT,
    member_limit    BIGINT,
    history_visible BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE members (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    member_id       TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,              -- mentee | mentor | facilitator | member
    pseudonymous    BIGINT NOT NULL DEFAULT 0,
    agreed_at       BIGINT,
    visible_from    BIGINT NOT NULL DEFAULT 0, -- lowest seq this member may read
    joined_at       BIGINT NOT NULL,
    left_at         BIGINT,
    muted           BIGINT NOT NULL DEFAULT 0,
    read_seq        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, member_id)
);
CREATE UNIQUE INDEX members_account ON members (conversation_id, account_id);
CREATE UNIQUE INDEX members_display_name ON members (conversation_id, lower(display_name));
CREATE INDEX members_by_account ON members (account_id);

-- The conversation timeline: messages, edits, deletions and system events share one
-- gap-free sequence per conversation.
CREATE TABLE events (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,              -- message | edit | delete | system
    sender          TEXT,                       -- member id
    client_id       TEXT,
    thread_root     BIGINT,
    target_seq      BIGINT,
    key_id          BIGINT,
    nonce           BYTEA,
    body            BYTEA,                       -- ciphertext; NULL once deleted
    meta            TEXT,                       -- system events: JSON
    created_at      BIGINT NOT NULL,
    edited_at       BIGINT,
    deleted         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX events_client_id ON events (conversation_id, sender, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX events_thread ON events (conversation_id, thread_root, seq)
    WHERE thread_root IS NOT NULL;

CREATE TABLE thread_reads (
    conversation_id TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    root_seq        BIGINT NOT NULL,
    read_seq        BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, member_id, root_seq)
);

CREATE TABLE relationships (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    origin          TEXT NOT NULL,              -- requested | offered | assigned
    state           TEXT NOT NULL,              -- pending | active | declined | ended | withdrawn
    created_by      TEXT NOT NULL,              -- account id
    coordinator     TEXT,                       -- account id of an assigning coordinator
    intro_key_id    BIGINT,
    intro_nonce     BYTEA,
    intro           BYTEA,                       -- encrypted introduction
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    ended_at        BIGINT
);
CREATE INDEX relationships_by_coordinator ON relationships (coordinator);

CREATE TABLE relationship_parties (
    relationship_id TEXT NOT NULL REFERENCES relationships(id),
    account_id      TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    role            TEXT NOT NULL,              -- mentee | mentor
    response        TEXT NOT NULL,              -- pending | accepted | declined
    note_key_id     BIGINT,
    note_nonce      BYTEA,
    note            BYTEA,                       -- encrypted private end note, never shown to others
    PRIMARY KEY (relationship_id, account_id)
);
CREATE INDEX relationship_parties_by_account ON relationship_parties (account_id);
