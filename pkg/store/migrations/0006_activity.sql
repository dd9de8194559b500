-- The activity log: what happened in the instance, newest read first.
-- actor_id is the user who caused an entry, kept as it was (no foreign
-- key) so the trail still says who acted after the user is deleted.
-- data is a JSON object.
CREATE TABLE activity (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    kind     TEXT NOT NULL,
    actor_id TEXT,
    subject  TEXT NOT NULL DEFAULT '',
    message  TEXT NOT NULL DEFAULT '',
    data     TEXT NOT NULL DEFAULT '{}'
);
-- Listing newest first, time filters and the retention prune.
CREATE INDEX activity_at ON activity (at, id);
-- Filters by kind or kind prefix.
CREATE INDEX activity_kind ON activity (kind, at, id);
-- Filters by actor.
CREATE INDEX activity_actor ON activity (actor_id, at, id) WHERE actor_id IS NOT NULL;
