-- Schedules fire functions at instants computed from their specification
-- (once, interval or cron, in an IANA time zone). Instants are stored in UTC.
-- revision is raised when the specification or is_active changes, so the
-- scheduler can tell stale change events and fires from current ones.
-- missed_runs and last_missed_at record runs skipped because they came due
-- further back than the grace (for example after downtime).
CREATE TABLE schedules (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    function_name      TEXT NOT NULL,
    schedule           TEXT NOT NULL,
    input_data         TEXT NOT NULL DEFAULT '{}',
    is_active          INTEGER NOT NULL DEFAULT 1,
    last_run_at        TEXT,
    next_run_at        TEXT,
    missed_runs        INTEGER NOT NULL DEFAULT 0,
    last_missed_at     TEXT,
    revision           INTEGER NOT NULL DEFAULT 1,
    created_by_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX schedules_created ON schedules (created_at, id);
CREATE INDEX schedules_function ON schedules (function_name, created_at);
CREATE INDEX schedules_active ON schedules (is_active, id);
