-- Login sessions: one row per refresh-token family. refresh_jti is the one
-- refresh token of the session that may still be used; presenting any other
-- (an already used one) revokes the session. Deleting a user deletes them.
CREATE TABLE auth_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_jti  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    refreshed_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_why  TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires ON auth_sessions (expires_at);

-- Per-user token cutoffs: every token of the user issued at or before
-- not_after_us (Unix microseconds) is refused. Written by logout, password
-- change or reset and user deletion. No foreign key on purpose: the cutoff
-- of a deleted user must outlive the user's row until forget_at, when every
-- token it could refuse has expired.
CREATE TABLE token_cutoffs (
    user_id      TEXT PRIMARY KEY,
    not_after_us INTEGER NOT NULL,
    forget_at    TEXT NOT NULL
);

-- Password reset tokens, stored as SHA-256 hashes of the emailed secret.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Application tokens for servers. The secret is shown once at creation;
-- only its SHA-256 hash is kept. A token acts for the admin who created it,
-- within its scopes; deleting that admin deletes the token.
CREATE TABLE application_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT,
    token_hash   TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '[]',
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    is_active    INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX application_tokens_user ON application_tokens (user_id);

-- Runtime settings: typed core.* keys and free ext.<name>.* keys, each a
-- JSON value. A missing key has its default.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
