-- Foreign trust roots (互认互验): other departments' or provinces' root certificates whose
-- seals verify as trusted. Removing one keeps the row, with the time it stopped counting.
CREATE TABLE trust_roots (
    id          TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    certificate BYTEA NOT NULL,
    sha256      TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    removed_at  TEXT
);
CREATE INDEX trust_roots_by_digest ON trust_roots (sha256);
CREATE INDEX seals_by_certificate ON seals (certificate);
