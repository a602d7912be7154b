-- A revoked seal's certificate is listed on the root's CRL from this time on, and the seal no
-- longer stamps.
ALTER TABLE seals ADD COLUMN revoked_at TEXT;
