// Package collections implements schema-driven collections and their records:
// schema parsing, record validation, access rules, and storage in the
// TinyBase SQLite database. It knows nothing about HTTP; transports call the
// Service and map its typed errors to responses.
package collections

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tinybase/tinybase/pkg/store"
)

const (
	maxNameLen  = 100
	maxLabelLen = 200
)

// Collection is a collection's metadata as stored and served.
type Collection struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Label string `json:"label"`
	// Schema is the schema JSON exactly as the client sent it (compacted).
	Schema json.RawMessage `json:"schema"`
	// Options is a JSON object, {} when none were given.
	Options   json.RawMessage `json:"options"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// CreateInput holds the fields of a new collection. A nil Schema means no
// fields; nil or null Options mean {}.
type CreateInput struct {
	Name    string
	Label   string
	Schema  json.RawMessage
	Options json.RawMessage
}

// UpdateInput holds a partial collection update: nil (or JSON null) leaves a
// value unchanged, anything else replaces it whole.
type UpdateInput struct {
	Label   *string
	Schema  json.RawMessage
	Options json.RawMessage
}

// Service stores collections and records. It caches parsed schemas by
// collection name; a cached schema is used only while the stored schema text
// is unchanged, so the cache can never serve a stale schema even if the
// database is changed behind the service's back. It is safe for concurrent use.
type Service struct {
	db  *store.DB
	log *slog.Logger

	mu      sync.RWMutex
	schemas map[string]cachedSchema

	pub         publisherBox
	eventErrors atomic.Uint64
	stmts       statements
}

type cachedSchema struct {
	id     string
	raw    string
	schema Schema
}

// NewService returns a Service over db and parses every stored schema into
// its cache. A schema that no longer parses is logged and skipped; writes to
// that collection then fail with ErrStoredSchemaInvalid until it is fixed.
func NewService(db *store.DB) *Service {
	s := &Service{
		db:      db,
		log:     slog.Default().With("component", "collections"),
		schemas: make(map[string]cachedSchema),
	}
	if err := s.preload(context.Background()); err != nil {
		s.log.Warn("preload collection schemas", "error", err)
	}
	s.prepareStatements(context.Background())
	return s
}

func (s *Service) preload(ctx context.Context) error {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, name, schema FROM collections`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name, raw string
		if err := rows.Scan(&id, &name, &raw); err != nil {
			return err
		}
		if _, err := s.schemaFor(name, id, raw); err != nil {
			s.log.Warn("skip collection with invalid schema", "collection", name, "error", err)
		}
	}
	return rows.Err()
}

// schemaFor returns the parsed schema of a collection row, from the cache
// when the row still holds the cached text.
func (s *Service) schemaFor(name, id, raw string) (Schema, error) {
	s.mu.RLock()
	c, ok := s.schemas[name]
	s.mu.RUnlock()
	if ok && c.id == id && c.raw == raw {
		return c.schema, nil
	}
	sch, err := ParseSchema(json.RawMessage(raw))
	if err != nil {
		return Schema{}, fmt.Errorf("collection %s: %w: %v", name, ErrStoredSchemaInvalid, err)
	}
	s.cache(name, id, raw, sch)
	return sch, nil
}

// cached returns the cached id, schema text and schema of a collection.
func (s *Service) cached(name string) (id, raw string, sch Schema, ok bool) {
	s.mu.RLock()
	c, ok := s.schemas[name]
	s.mu.RUnlock()
	return c.id, c.raw, c.schema, ok
}

func (s *Service) cache(name, id, raw string, sch Schema) {
	s.mu.Lock()
	s.schemas[name] = cachedSchema{id: id, raw: raw, schema: sch}
	s.mu.Unlock()
}

func (s *Service) uncache(name string) {
	s.mu.Lock()
	delete(s.schemas, name)
	s.mu.Unlock()
}

const collectionColumns = `id, name, label, schema, options, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanCollection(row scanner) (Collection, error) {
	var c Collection
	var schema, options string
	err := row.Scan(&c.ID, &c.Name, &c.Label, &schema, &options, &c.CreatedAt, &c.UpdatedAt)
	c.Schema, c.Options = json.RawMessage(schema), json.RawMessage(options)
	return c, err
}

// List returns every collection, ordered by name.
func (s *Service) List(ctx context.Context) ([]Collection, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+collectionColumns+` FROM collections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	out := []Collection{}
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("list collections: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	return out, nil
}

// Get returns the named collection or an error matching ErrCollectionNotFound.
func (s *Service) Get(ctx context.Context, name string) (Collection, error) {
	c, err := scanCollection(s.readRow(ctx, qCollection, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Collection{}, collectionNotFound(name)
	}
	if err != nil {
		return Collection{}, fmt.Errorf("get collection: %w", err)
	}
	return c, nil
}

// Create validates and stores a new collection. Errors: *InputError for the
// name, label or options, *SchemaError for the schema, and an error matching
// ErrCollectionExists for a taken name.
func (s *Service) Create(ctx context.Context, in CreateInput) (Collection, error) {
	if err := checkName(in.Name); err != nil {
		return Collection{}, err
	}
	if err := checkLabel(in.Label); err != nil {
		return Collection{}, err
	}
	rawSchema, sch, err := normaliseSchema(in.Schema)
	if err != nil {
		return Collection{}, err
	}
	options, err := normaliseOptions(in.Options)
	if err != nil {
		return Collection{}, err
	}
	now := store.Now()
	c := Collection{
		ID: uuid.NewString(), Name: in.Name, Label: in.Label,
		Schema: rawSchema, Options: options, CreatedAt: now, UpdatedAt: now,
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM collections WHERE name = ?`, c.Name).Scan(&one)
		if err == nil {
			return collectionExists(c.Name)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := checkTargets(ctx, tx, c.Name, sch); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO collections (`+collectionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Label, string(c.Schema), string(c.Options), c.CreatedAt, c.UpdatedAt)
		if err != nil {
			return err
		}
		return syncIndexes(ctx, tx, c.ID, sch)
	})
	if err != nil {
		return Collection{}, passTyped("create collection", err)
	}
	s.cache(c.Name, c.ID, string(c.Schema), sch)
	return c, nil
}

// passTyped adds context to unexpected errors and passes the typed ones
// through unchanged, so their messages reach clients as they are.
func passTyped(op string, err error) error {
	var (
		se *SchemaError
		ue *UniqueError
		re *ReferencedError
	)
	if errors.Is(err, ErrCollectionExists) || errors.Is(err, ErrCollectionNotFound) ||
		errors.As(err, &se) || errors.As(err, &ue) || errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Update changes a collection's label, schema or options. Existing records
// are not re-validated; each is checked against the new schema when it is
// next updated (Status lists those that no longer pass). A new schema brings
// the collection's indexes in line with it in the same transaction: a field
// that becomes unique while records share a value is refused with a
// *UniqueError listing the values, and nothing changes.
func (s *Service) Update(ctx context.Context, name string, in UpdateInput) (Collection, error) {
	if in.Label != nil {
		if err := checkLabel(*in.Label); err != nil {
			return Collection{}, err
		}
	}
	var (
		rawSchema json.RawMessage
		sch       Schema
		err       error
	)
	newSchema := given(in.Schema)
	if newSchema {
		if rawSchema, sch, err = normaliseSchema(in.Schema); err != nil {
			return Collection{}, err
		}
	}
	var options json.RawMessage
	if given(in.Options) {
		if options, err = normaliseOptions(in.Options); err != nil {
			return Collection{}, err
		}
	}
	var c Collection
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanCollection(tx.QueryRowContext(ctx,
			`SELECT `+collectionColumns+` FROM collections WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return collectionNotFound(name)
		}
		if err != nil {
			return err
		}
		if in.Label != nil {
			c.Label = *in.Label
		}
		if newSchema {
			c.Schema = rawSchema
		}
		if options != nil {
			c.Options = options
		}
		c.UpdatedAt = store.Now()
		if newSchema {
			if err := checkTargets(ctx, tx, c.Name, sch); err != nil {
				return err
			}
			if err := syncIndexes(ctx, tx, c.ID, sch); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE collections SET label = ?, schema = ?, options = ?, updated_at = ? WHERE id = ?`,
			c.Label, string(c.Schema), string(c.Options), c.UpdatedAt, c.ID)
		return err
	})
	if err != nil {
		return Collection{}, passTyped("update collection", err)
	}
	if newSchema {
		s.cache(c.Name, c.ID, string(c.Schema), sch)
	}
	return c, nil
}

// Delete removes a collection, its indexes and, through the foreign key,
// all its records, without record events. A collection that reference
// fields of other collections point at cannot be deleted
// (*ReferencedError): those fields must be removed or retargeted first.
func (s *Service) Delete(ctx context.Context, name string) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var cid string
		err := tx.QueryRowContext(ctx, `SELECT id FROM collections WHERE name = ?`, name).Scan(&cid)
		if errors.Is(err, sql.ErrNoRows) {
			return collectionNotFound(name)
		}
		if err != nil {
			return err
		}
		refs, err := s.referrers(ctx, tx)
		if err != nil {
			return err
		}
		blockers := map[string]string{}
		for _, rf := range refs[name] {
			if rf.coll != name {
				blockers[rf.coll+"."+rf.field] = "the field refers to this collection"
			}
		}
		if len(blockers) > 0 {
			return referencedError(fmt.Sprintf("Collection '%s'", name), blockers)
		}
		if err := dropIndexes(ctx, tx, cid); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM collections WHERE id = ?`, cid)
		return err
	})
	if err != nil {
		return passTyped("delete collection", err)
	}
	s.uncache(name)
	return nil
}

// given reports whether an optional JSON value was supplied: not empty and
// not null.
func given(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) > 0 && !isNull(raw)
}

func checkName(name string) error {
	switch {
	case name == "":
		return &InputError{Field: "name", Message: "is required"}
	case len(name) > maxNameLen:
		return &InputError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", maxNameLen)}
	case !collectionNameRE.MatchString(name):
		return &InputError{Field: "name",
			Message: "must start with a lower-case letter and contain only a-z, 0-9 and _"}
	}
	return nil
}

func checkLabel(label string) error {
	switch n := utf8.RuneCountInString(label); {
	case n == 0:
		return &InputError{Field: "label", Message: "is required"}
	case n > maxLabelLen:
		return &InputError{Field: "label", Message: fmt.Sprintf("must be at most %d characters", maxLabelLen)}
	}
	return nil
}

// normaliseSchema parses a schema and returns it compacted for storage; the
// client's key order and spelling (aliases, letter case) are kept.
func normaliseSchema(raw json.RawMessage) (json.RawMessage, Schema, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage(`{}`)
	}
	sch, err := ParseSchema(raw)
	if err != nil {
		return nil, Schema{}, err
	}
	return compact(raw), sch, nil
}

// normaliseOptions checks that options is an object and that options.access,
// if present, maps actions to rule strings. Unknown actions and rule values
// are kept; an unknown rule is evaluated as "auth".
func normaliseOptions(raw json.RawMessage) (json.RawMessage, error) {
	if !given(raw) {
		return json.RawMessage(`{}`), nil
	}
	var opts map[string]json.RawMessage
	if err := json.Unmarshal(raw, &opts); err != nil || opts == nil {
		return nil, &InputError{Field: "options", Message: "must be a JSON object"}
	}
	if v, ok := opts["access"]; ok && !isNull(v) {
		var access map[string]*string
		if err := json.Unmarshal(v, &access); err != nil || access == nil {
			return nil, &InputError{Field: "options.access", Message: "must be an object mapping actions to rules"}
		}
	}
	return compact(raw), nil
}
