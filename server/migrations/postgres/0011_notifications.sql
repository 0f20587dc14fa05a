-- Content-free notifications: push subscriptions, each account's choices, and a durable
-- outbox every node claims from. Nothing here holds a body, a title or a display name.

-- One row per device (its push service endpoint) of an account. The endpoint and keys
-- are secrets of that browser: never logged, never returned.
CREATE TABLE push_subscriptions (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (account_id, endpoint)
);

-- What an account wants to be told, and when not. No row: the defaults.
CREATE TABLE notification_preferences (
    account_id             TEXT PRIMARY KEY,
    push                   BIGINT NOT NULL CHECK (push IN (0, 1)),
    kind_message           BIGINT NOT NULL CHECK (kind_message IN (0, 1)),
    kind_relationship      BIGINT NOT NULL CHECK (kind_relationship IN (0, 1)),
    kind_invitation        BIGINT NOT NULL CHECK (kind_invitation IN (0, 1)),
    kind_missed_call       BIGINT NOT NULL CHECK (kind_missed_call IN (0, 1)),
    kind_ringing_call      BIGINT NOT NULL CHECK (kind_ringing_call IN (0, 1)),
    -- Minutes after local midnight, in the IANA zone quiet_time_zone; all three or none.
    quiet_start            BIGINT CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end              BIGINT CHECK (quiet_end BETWEEN 0 AND 1439),
    quiet_time_zone        TEXT,
    ringing_in_quiet_hours BIGINT NOT NULL CHECK (ringing_in_quiet_hours IN (0, 1)),
    daily_cap              BIGINT NOT NULL CHECK (daily_cap BETWEEN 0 AND 1000),
    updated_at             BIGINT NOT NULL,
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    CHECK ((quiet_start IS NULL) = (quiet_time_zone IS NULL))
);

-- The outbox: one notification to one account, delivered to each of its subscriptions.
-- A node claims due rows by taking a lease (lease_owner, lease_until); a node that dies
-- leaves its lease to expire and another node claims the row again. Every change after
-- the claim is conditional on still holding the lease, so two nodes never both finish
-- (or both send) one row. `source` names the cause (a relationship, a call, a
-- conversation's newest message): one notification per account and cause.
CREATE TABLE notification_outbox (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN
                        ('message', 'reply', 'relationship', 'invitation', 'missed_call', 'ringing_call')),
    conversation_id TEXT,
    count           BIGINT NOT NULL CHECK (count >= 1),
    source          TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'skipped', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    done_at         BIGINT,
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CHECK ((state = 'pending') = (done_at IS NULL)),
    UNIQUE (account_id, source)
);
CREATE INDEX notification_outbox_due ON notification_outbox (due_at) WHERE state = 'pending';
CREATE INDEX notification_outbox_sent ON notification_outbox (account_id, done_at)
    WHERE state = 'sent';
CREATE INDEX notification_outbox_done ON notification_outbox (done_at) WHERE state <> 'pending';

-- Which subscriptions one outbox row already reached: a row retried after a partial
-- failure (or reclaimed after a node died) skips them.
CREATE TABLE push_deliveries (
    outbox_id       TEXT NOT NULL REFERENCES notification_outbox(id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL,
    PRIMARY KEY (outbox_id, subscription_id)
);

-- Up to which seq an account was told about a conversation's messages. Derived from
-- the timeline by a periodic pass, so sending a message costs no extra write; the pass
-- moves a cursor only forward, with a conditional update, so two nodes never both
-- enqueue the same messages.
CREATE TABLE notify_cursors (
    account_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    PRIMARY KEY (account_id, conversation_id)
);
