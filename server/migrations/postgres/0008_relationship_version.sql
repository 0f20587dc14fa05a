-- A relationship's rules are applied by the server to the row it read; the change is
-- written only if the row still has the version read (compare-and-set), so two changes
-- at once cannot both apply to the same state. Every change bumps it.

ALTER TABLE relationships ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
