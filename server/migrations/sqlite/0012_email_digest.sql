-- The e-mail digest, per account: what it chose (none by default: an account without a
-- row gets no e-mail), the address its token carries (sealed like message bodies and
-- bound to the account; kept only while the digest is on), the one-click unsubscribe
-- token (its SHA-256 to find it, and sealed so every digest can carry it), and the
-- schedule: when the last digest went out, when the account is next looked at, and
-- which node holds it now (a lease: a node that dies holding it loses nothing, another
-- takes the account over once the lease has run out).

CREATE TABLE email_digests (
    account_id         TEXT PRIMARY KEY REFERENCES accounts(id),
    choice             TEXT NOT NULL CHECK (choice IN ('off', 'daily', 'after_hours')),
    after_hours        INTEGER NOT NULL CHECK (after_hours BETWEEN 1 AND 168),
    sealed_address     BLOB,
    unsubscribe_hash   BLOB NOT NULL UNIQUE,
    sealed_unsubscribe BLOB NOT NULL,
    last_sent_at       INTEGER NOT NULL DEFAULT 0,
    next_due_at        INTEGER NOT NULL DEFAULT 0,
    lease_until        INTEGER NOT NULL DEFAULT 0,
    updated_at         INTEGER NOT NULL,
    CHECK (choice <> 'off' OR sealed_address IS NULL)
);
CREATE INDEX email_digests_due ON email_digests (next_due_at) WHERE choice <> 'off';
