-- A room's title and agreement are conversation content: they are sealed at rest like
-- message bodies (key id, nonce and ciphertext in one blob, bound to the room and the
-- field). The old plaintext columns stay only for rooms written before; the server
-- seals those at start-up and clears the plaintext.

ALTER TABLE conversations ADD COLUMN sealed_title BLOB;
ALTER TABLE conversations ADD COLUMN sealed_agreement BLOB;
