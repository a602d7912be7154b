-- Service counters (窗口) get API keys of their own role. The role's CHECK constraint is
-- widened by rebuilding the table, which SQLite and PostgreSQL both accept.
CREATE TABLE api_keys_with_counters (
    id            TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'department', 'counter')),
    department_id TEXT REFERENCES departments (id),
    secret_hash   TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
INSERT INTO api_keys_with_counters (id, role, department_id, secret_hash, created_at)
    SELECT id, role, department_id, secret_hash, created_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_with_counters RENAME TO api_keys;
