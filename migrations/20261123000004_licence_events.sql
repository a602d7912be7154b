-- A licence's life, one row per state change (issue, change, renew, suspend, resume, revoke,
-- cancel): when, by whom, why, the status and version after it, and the issuing department's
-- signature over the event. Rows are only ever added.
CREATE TABLE licence_events (
    id         TEXT PRIMARY KEY,
    stem       TEXT NOT NULL REFERENCES licences (stem),
    at         TEXT NOT NULL,
    action     TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    seal_id    TEXT NOT NULL REFERENCES seals (id),
    signature  TEXT NOT NULL
);
CREATE INDEX licence_events_by_stem ON licence_events (stem, at);
