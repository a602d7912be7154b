-- Searching the licence library by kind, status and issuing department, newest first.
CREATE INDEX licences_by_kind ON licences (kind, created_at);
CREATE INDEX licences_by_status ON licences (status, created_at);
CREATE INDEX licences_by_department ON licences (department_id, created_at);
