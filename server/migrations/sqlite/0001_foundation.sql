-- Foundation schema. Times are Unix milliseconds; flags are 0/1 integers (the same
-- schema shape as migrations/postgres so one set of SQL serves both engines).

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    roles             TEXT NOT NULL,            -- comma-separated role names
    read_receipts     INTEGER NOT NULL DEFAULT 0,
    default_pseudonym TEXT,
    created_at        INTEGER NOT NULL,
    seen_at           INTEGER NOT NULL
);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,              -- relationship | room
    state           TEXT NOT NULL,              -- pending | active | read_only | closed
    last_seq        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    created_by      TEXT,
    title           TEXT,
    room_kind       TEXT,                       -- group | peer
    agreement       TEXT,
    member_limit    INTEGER,
    history_visible INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE members (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    member_id       TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,              -- mentee | mentor | facilitator | member
    pseudonymous    INTEGER NOT NULL DEFAULT 0,
    agreed_at       INTEGER,
    visible_from    INTEGER NOT NULL DEFAULT 0, -- lowest seq this member may read
    joined_at       INTEGER NOT NULL,
    left_at         INTEGER,
    muted           INTEGER NOT NULL DEFAULT 0,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, member_id)
);
CREATE UNIQUE INDEX members_account ON members (conversation_id, account_id);
CREATE UNIQUE INDEX members_display_name ON members (conversation_id, lower(display_name));
CREATE INDEX members_by_account ON members (account_id);

-- The conversation timeline: messages, edits, deletions and system events share one
-- gap-free sequence per conversation.
CREATE TABLE events (
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    kind            TEXT NOT NULL,              -- message | edit | delete | system
    sender          TEXT,                       -- member id
    client_id       TEXT,
    thread_root     INTEGER,
    target_seq      INTEGER,
    key_id          INTEGER,
    nonce           BLOB,
    body            BLOB,                       -- ciphertext; NULL once deleted
    meta            TEXT,                       -- system events: JSON
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER,
    deleted         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX events_client_id ON events (conversation_id, sender, client_id)
    WHERE client_id IS NOT NULL;
CREATE INDEX events_thread ON events (conversation_id, thread_root, seq)
    WHERE thread_root IS NOT NULL;

CREATE TABLE thread_reads (
    conversation_id TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    root_seq        INTEGER NOT NULL,
    read_seq        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, member_id, root_seq)
);

CREATE TABLE relationships (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    origin          TEXT NOT NULL,              -- requested | offered | assigned
    state           TEXT NOT NULL,              -- pending | active | declined | ended | withdrawn
    created_by      TEXT NOT NULL,              -- account id
    coordinator     TEXT,                       -- account id of an assigning coordinator
    intro_key_id    INTEGER,
    intro_nonce     BLOB,
    intro           BLOB,                       -- encrypted introduction
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    ended_at        INTEGER
);
CREATE INDEX relationships_by_coordinator ON relationships (coordinator);

CREATE TABLE relationship_parties (
    relationship_id TEXT NOT NULL REFERENCES relationships(id),
    account_id      TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    role            TEXT NOT NULL,              -- mentee | mentor
    response        TEXT NOT NULL,              -- pending | accepted | declined
    note_key_id     INTEGER,
    note_nonce      BLOB,
    note            BLOB,                       -- encrypted private end note, never shown to others
    PRIMARY KEY (relationship_id, account_id)
);
CREATE INDEX relationship_parties_by_account ON relationship_parties (account_id);
