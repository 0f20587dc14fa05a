-- Call metadata (issue 4). Only what a coordinator's activity counts need: when a call
-- started, was answered and ended, how many members took part and why it ended.
-- Never SDP, ICE candidates, IP addresses or who said what. Times are Unix milliseconds.

CREATE TABLE calls (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    media           TEXT NOT NULL,              -- audio | video
    started_at      INTEGER NOT NULL,
    answered_at     INTEGER,
    ended_at        INTEGER,                    -- NULL while live (or if the node died)
    participants    INTEGER NOT NULL DEFAULT 1, -- distinct members who took part
    end_reason      TEXT                        -- invite_timeout, user_hangup, … (PROTOCOL.md)
);
CREATE INDEX calls_by_conversation ON calls (conversation_id, started_at);
