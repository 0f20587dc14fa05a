-- Display names are compared by their UTS #39 confusable skeleton (lower-cased), not
-- by their exact text: "Dr Bob Banda" with a Cyrillic "о" is the same name. The server
-- computes the key (`display_name::comparison_key`) and writes it beside every name;
-- the database holds the rule with unique indexes, so two look-alike names written at
-- once cannot both land. Names written before this rule have no key and are still
-- compared case-insensitively by the older index.

ALTER TABLE members ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX members_name_key ON members (conversation_id, name_key);

-- The directory: no mentor can publish a name that looks like another mentor's.
ALTER TABLE mentor_profiles ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX mentor_profiles_name_key ON mentor_profiles (name_key);
