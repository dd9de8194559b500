-- Installed extensions. The binary lives in the extensions folder under
-- path; sha256 is its checksum at install, checked before every start.
-- manifest is what the extension described at install (hooks, settings
-- schema, routes), kept so that its settings validate while it is stopped.
-- policy says what a failing before-hook does: 'closed' refuses the
-- operation, 'open' lets it through.
CREATE TABLE extensions (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    version      TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    author       TEXT NOT NULL DEFAULT '',
    path         TEXT NOT NULL,
    source       TEXT NOT NULL DEFAULT '',
    sha256       TEXT NOT NULL,
    manifest     TEXT NOT NULL DEFAULT '{}',
    is_enabled   INTEGER NOT NULL DEFAULT 1,
    policy       TEXT NOT NULL DEFAULT 'closed' CHECK (policy IN ('open', 'closed')),
    installed_at TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
