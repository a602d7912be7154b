-- The audit log as a Merkle tree (RFC 9162): the id of the request an entry was made in; each
-- entry's position (seq, from 0), its leaf
-- hash, and the root after it, signed by the log key; the hashes of the perfect subtrees
-- (2^level entries from idx * 2^level), from which any tree head or proof is folded; the head
-- of the log (size and the hashes of its right-edge subtrees), whose row every append locks;
-- and the tree heads signed for publication. Hashes are lower-case hex.
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
ALTER TABLE audit_events ADD COLUMN seq BIGINT;
ALTER TABLE audit_events ADD COLUMN leaf_hash TEXT;
ALTER TABLE audit_events ADD COLUMN tree_root TEXT;
ALTER TABLE audit_events ADD COLUMN root_signature TEXT;
CREATE UNIQUE INDEX audit_events_by_seq ON audit_events (seq);

CREATE TABLE audit_nodes (
    level  INTEGER NOT NULL,
    idx    BIGINT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_log_head (
    id        INTEGER PRIMARY KEY,
    size      BIGINT NOT NULL,
    frontier  TEXT NOT NULL
);
INSERT INTO audit_log_head (id, size, frontier) VALUES (1, 0, '');

CREATE TABLE audit_tree_heads (
    tree_size  BIGINT NOT NULL,
    root_hash  TEXT NOT NULL,
    signed_at  TEXT NOT NULL,
    signature  TEXT NOT NULL,
    PRIMARY KEY (tree_size, signed_at)
);
