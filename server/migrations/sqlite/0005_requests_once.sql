-- One open request per mentee and mentor. A mentee's request to a mentor while an earlier
-- request of hers to that mentor is pending or active is refused (`conflict`); the
-- database decides, so requests sent at once cannot both land. Only requests (made by
-- the mentee, who knows both people) are covered: an offer or an assignment names a
-- mentee the other side may know only by a pseudonym, and must answer the same whether
-- or not she is already theirs elsewhere.
--
-- A row lives while its relationship is pending or active: the trigger removes it when
-- the relationship moves on, whichever statement moves it.

CREATE TABLE open_requests (
    mentee          TEXT NOT NULL,
    mentor          TEXT NOT NULL,
    relationship_id TEXT NOT NULL REFERENCES relationships(id),
    PRIMARY KEY (mentee, mentor)
);
CREATE INDEX open_requests_by_relationship ON open_requests (relationship_id);

-- Requests already open keep their place; of duplicates made before this rule, the
-- oldest holds it (the others stay as they are and end as usual).
INSERT OR IGNORE INTO open_requests (mentee, mentor, relationship_id)
SELECT mentee.account_id, mentor.account_id, r.id
FROM relationships r
JOIN relationship_parties mentee ON mentee.relationship_id = r.id AND mentee.role = 'mentee'
JOIN relationship_parties mentor ON mentor.relationship_id = r.id AND mentor.role = 'mentor'
WHERE r.origin = 'requested' AND r.state IN ('pending', 'active')
ORDER BY r.created_at, r.id;

CREATE TRIGGER open_requests_close AFTER UPDATE OF state ON relationships
WHEN NEW.state NOT IN ('pending', 'active')
BEGIN
    DELETE FROM open_requests WHERE relationship_id = NEW.id;
END;
