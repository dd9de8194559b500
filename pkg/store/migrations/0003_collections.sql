-- Record counts per collection, kept exact by triggers in the same
-- transactions as the writes, so that an unfiltered listing answers its
-- total without counting every record of the collection.
CREATE TABLE collection_counts (
    collection_id TEXT PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
    records       INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO collection_counts (collection_id, records)
    SELECT c.id, (SELECT COUNT(*) FROM records r WHERE r.collection_id = c.id) FROM collections c;

CREATE TRIGGER collection_counts_init AFTER INSERT ON collections BEGIN
    INSERT INTO collection_counts (collection_id, records) VALUES (NEW.id, 0);
END;

CREATE TRIGGER collection_counts_insert AFTER INSERT ON records BEGIN
    UPDATE collection_counts SET records = records + 1 WHERE collection_id = NEW.collection_id;
END;

CREATE TRIGGER collection_counts_delete AFTER DELETE ON records BEGIN
    UPDATE collection_counts SET records = records - 1 WHERE collection_id = OLD.collection_id;
END;
