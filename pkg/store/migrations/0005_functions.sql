-- The function version a call ran, and the result of calls whose caller
-- asked to fetch it later (async calls); other results are never stored.
ALTER TABLE function_calls ADD COLUMN version_id TEXT;
ALTER TABLE function_calls ADD COLUMN keep_result INTEGER NOT NULL DEFAULT 0;
ALTER TABLE function_calls ADD COLUMN result TEXT;

-- Every version of every function file, oldest first. The content itself
-- lives in the bus object store under "<content_hash>/<file_name>".
CREATE TABLE function_versions (
    id                  TEXT PRIMARY KEY,
    function_name       TEXT NOT NULL,
    file_name           TEXT NOT NULL,
    content_hash        TEXT NOT NULL,
    file_size           INTEGER NOT NULL,
    deployed_by_user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    deployed_at         TEXT NOT NULL,
    notes               TEXT
);
CREATE INDEX function_versions_file ON function_versions (file_name, deployed_at);
CREATE INDEX function_versions_hash ON function_versions (content_hash);
