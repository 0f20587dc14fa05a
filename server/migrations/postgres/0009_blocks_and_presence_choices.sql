-- A block acts on the membership where it was made (that conversation's member id)
-- and on new contact from the account behind it; other conversations the two share
-- are untouched. So a block is keyed by blocker, conversation and member: one account
-- can block two memberships of another without knowing they are one person.

CREATE TABLE blocks_per_membership (
    blocker         TEXT NOT NULL,
    blocked         TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (blocker, conversation_id, member_id)
);
INSERT INTO blocks_per_membership
    (blocker, blocked, conversation_id, member_id, display_name, created_at)
    SELECT blocker, blocked, conversation_id, member_id, display_name, created_at FROM blocks;
DROP TABLE blocks;
ALTER TABLE blocks_per_membership RENAME TO blocks;
CREATE INDEX blocks_by_blocked ON blocks (blocked, blocker);
CREATE INDEX blocks_by_conversation ON blocks (conversation_id);

-- Whether a member shows their presence in one conversation, once they chose. Without a
-- row, a pseudonymous membership shows none (presence would link it to the account's
-- other memberships) and a named one shows it.
CREATE TABLE presence_choices (
    conversation_id TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    shown           BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, member_id)
);
