-- One report per person and message. A second report of the same message by the same
-- reporter is refused (`already_reported`); the database decides, so two reports sent at
-- once cannot both land. Reports filed again before this rule existed are kept (a
-- safeguarding record is never deleted) and marked, and the rule covers the rest.

ALTER TABLE reports ADD COLUMN filed_again BIGINT NOT NULL DEFAULT 0;

UPDATE reports SET filed_again = 1 WHERE EXISTS (
    SELECT 1 FROM reports earlier
    WHERE earlier.reporter = reports.reporter
      AND earlier.conversation_id = reports.conversation_id
      AND earlier.target_seq = reports.target_seq
      AND (earlier.created_at < reports.created_at
           OR (earlier.created_at = reports.created_at AND earlier.id < reports.id))
);

CREATE UNIQUE INDEX reports_once_per_reporter
    ON reports (reporter, conversation_id, target_seq) WHERE filed_again = 0;
