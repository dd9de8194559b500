-- Users. Emails are stored normalised (trimmed, lower-case), so the unique
-- index is also the case-insensitive lookup index.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE collections (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    schema     TEXT NOT NULL DEFAULT '{}',
    options    TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Records belong to one collection; deleting the collection deletes them.
-- Deleting a user keeps their records, now without owner.
CREATE TABLE records (
    id            TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    owner_id      TEXT REFERENCES users(id) ON DELETE SET NULL,
    data          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX records_collection_created ON records (collection_id, created_at);
CREATE INDEX records_owner ON records (owner_id);

-- One row per function invocation, written by the api when the call is
-- accepted and completed from the worker's result event.
CREATE TABLE function_calls (
    id                   TEXT PRIMARY KEY,
    function_name        TEXT NOT NULL,
    status               TEXT NOT NULL,
    trigger_type         TEXT NOT NULL DEFAULT 'manual',
    trigger_id           TEXT,
    requested_by_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    worker_id            TEXT,
    attempts             INTEGER NOT NULL DEFAULT 0,
    started_at           TEXT,
    finished_at          TEXT,
    duration_ms          INTEGER,
    error_message        TEXT,
    error_type           TEXT,
    stderr               TEXT,
    created_at           TEXT NOT NULL
);
CREATE INDEX function_calls_created ON function_calls (created_at);
CREATE INDEX function_calls_function ON function_calls (function_name, created_at);
CREATE INDEX function_calls_status ON function_calls (status);
