-- How a room's calls carry media: `auto` (a mesh until the call outgrows it, then the
-- SFU) or `sfu` (through the SFU from the start). Relationships keep `auto`: their calls
-- are two people. The database refuses any other word.

ALTER TABLE conversations ADD COLUMN calls TEXT NOT NULL DEFAULT 'auto'
    CHECK (calls IN ('auto', 'sfu'));
