-- Mentoring model: the mentor directory, relationship details (first conversation,
-- end notes), room invitations, blocks and safeguarding reports. Same shape as
-- migrations/postgres/0002_mentoring.sql (times are Unix milliseconds, flags 0/1).

-- One profile per mentor, written by the mentor. Listed in the directory only once
-- it exists: a mentor opts in to being asked.
CREATE TABLE mentor_profiles (
    account_id   TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    specialty    TEXT NOT NULL DEFAULT '',
    interests    TEXT NOT NULL DEFAULT '[]',    -- JSON array of strings
    languages    TEXT NOT NULL DEFAULT '[]',    -- JSON array of lower-case language tags
    bio          TEXT NOT NULL DEFAULT '',
    accepting    INTEGER NOT NULL DEFAULT 1,
    capacity     INTEGER NOT NULL,              -- active mentees taken at most
    updated_at   INTEGER NOT NULL
);

-- A mentee's "first conversation" request: the small ask before the bigger one.
ALTER TABLE relationships ADD COLUMN first_conversation INTEGER NOT NULL DEFAULT 0;

-- Room invitations: by account id (account_id set) or by single-use code (code_hash
-- set: SHA-256 of the code; the code itself is shown once to the facilitator).
CREATE TABLE room_invites (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    account_id      TEXT,
    code_hash       TEXT,
    created_by      TEXT NOT NULL,               -- account id of the facilitator
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER,
    used_at         INTEGER,                     -- joined (or declined) at
    used_by         TEXT
);
CREATE UNIQUE INDEX room_invites_code ON room_invites (code_hash);
CREATE INDEX room_invites_by_account ON room_invites (account_id, conversation_id);

-- Blocks are between accounts, made through a member id the blocker saw; the blocked
-- account id is never shown to the blocker (they see the member id and name they
-- blocked, and where).
CREATE TABLE blocks (
    blocker         TEXT NOT NULL,
    blocked         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (blocker, blocked)
);
CREATE INDEX blocks_by_blocked ON blocks (blocked);

-- Safeguarding reports. The snapshot (reason + the reported message and up to 10
-- around it, with member ids and display names) is encrypted like message bodies.
CREATE TABLE reports (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    target_seq      INTEGER NOT NULL,
    reporter        TEXT NOT NULL,               -- account id (safeguarding only)
    reporter_member TEXT NOT NULL,
    reported        TEXT NOT NULL,               -- account id (safeguarding only)
    reported_member TEXT NOT NULL,
    key_id          INTEGER NOT NULL,
    nonce           BLOB NOT NULL,
    snapshot        BLOB NOT NULL,
    state           TEXT NOT NULL,               -- open | closed
    created_at      INTEGER NOT NULL,
    closed_at       INTEGER
);
CREATE INDEX reports_by_time ON reports (created_at);

-- Every access to a report, by whom and when.
CREATE TABLE report_access (
    report_id  TEXT NOT NULL REFERENCES reports(id),
    account_id TEXT NOT NULL,
    action     TEXT NOT NULL,                    -- listed | viewed | closed
    at         INTEGER NOT NULL
);
CREATE INDEX report_access_by_report ON report_access (report_id, at);
