// Package settings keeps TinyBase's runtime settings: typed core.* keys and
// free-form ext.<extension>.* keys, stored in the database and changed
// without a restart.
//
// Readers get an immutable Snapshot from memory (one atomic load), so a
// request that checks a setting does not read the database. A change is
// validated as a whole, written in one transaction, swapped in, and then
// announced to the OnChange listener (the api publishes it on the bus for
// the other roles). It never imports the bus or HTTP.
package settings

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// Defaults are the values that come from the static configuration until a
// setting overrides them.
type Defaults struct {
	// FunctionTimeoutSeconds is functions.timeout_seconds.
	FunctionTimeoutSeconds int
	// MaxConcurrentFunctionsPerUser is rate_limit.max_concurrent_functions_per_user.
	MaxConcurrentFunctionsPerUser int
}

// Change is what a committed update changed: the keys (secrets included
// by name) and the new snapshot.
type Change struct {
	Keys     []string
	Snapshot *Snapshot
}

// Service reads and writes runtime settings.
type Service struct {
	db       *store.DB
	defaults Defaults

	cur      atomic.Pointer[Snapshot]
	mu       sync.Mutex // serialises updates
	onChange func(Change)
	// extCheck validates ext.* values against their extension's schema.
	extCheck func(key string, value json.RawMessage) error
}

// NewService returns a Service over db; call Load before use.
func NewService(db *store.DB, d Defaults) *Service {
	s := &Service{db: db, defaults: d}
	s.cur.Store(s.build(map[string]any{}, ""))
	return s
}

// OnChange sets the function told of every committed change, after the
// new snapshot is in place. It runs on the updating goroutine.
func (s *Service) OnChange(fn func(Change)) { s.onChange = fn }

// CheckExt sets the function that validates a new ext.* value (the
// extension manager checks it against the schema its extension declared).
// Call it before serving.
func (s *Service) CheckExt(fn func(key string, value json.RawMessage) error) { s.extCheck = fn }

// Current returns the settings in force.
func (s *Service) Current() *Snapshot { return s.cur.Load() }

// Load reads the stored settings. A stored value that no longer passes
// validation (a key renamed, a zone removed from tzdata) is skipped with
// its default in force, and reported in the returned warnings.
func (s *Service) Load(ctx context.Context) ([]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT key, value, updated_at FROM settings`)
	if err != nil {
		return nil, fmt.Errorf("load settings: %w", err)
	}
	defer rows.Close()
	stored := map[string]any{}
	var warnings []string
	var newest string
	for rows.Next() {
		var key, value, at string
		if err := rows.Scan(&key, &value, &at); err != nil {
			return nil, fmt.Errorf("load settings: %w", err)
		}
		v, err := decodeValue(key, json.RawMessage(value))
		if err == nil {
			err = checkValue(key, v)
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("setting %s ignored: %v", key, err))
			continue
		}
		stored[key] = v
		newest = max(newest, at)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load settings: %w", err)
	}
	s.cur.Store(s.build(stored, newest))
	return warnings, nil
}

// build makes a snapshot of the stored values over the defaults.
func (s *Service) build(stored map[string]any, updatedAt string) *Snapshot {
	eff := map[string]any{}
	for _, sp := range specs {
		eff[sp.key] = s.defaultOf(sp.key)
	}
	for k, v := range stored {
		eff[k] = v
	}
	return &Snapshot{values: eff, stored: stored, UpdatedAt: updatedAt}
}

func (s *Service) defaultOf(key string) any {
	switch key {
	case FunctionTimeoutSeconds:
		return int64(s.defaults.FunctionTimeoutSeconds)
	case MaxConcurrentFunctionsUser:
		return int64(s.defaults.MaxConcurrentFunctionsPerUser)
	}
	if sp := byKey[key]; sp != nil {
		return sp.def
	}
	return nil
}

// Update applies changes, a JSON object's members keyed by core key,
// legacy flat name or ext.* key. For core keys a null value restores the
// default (for legacy names null means "unchanged", as in the Python
// TinyBase); for ext.* keys null deletes the key. Values equal to the
// current ones are no-ops. Every value is checked, then the rules across
// keys on the result; any failure is a *ValidationError and nothing is
// saved. It returns the new snapshot and the keys that changed.
func (s *Service) Update(ctx context.Context, changes map[string]json.RawMessage) (*Snapshot, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	next := maps.Clone(cur.stored)
	changed := map[string]bool{}
	// Several spellings may name one key; each spelling's proposal is kept
	// so that conflicting ones are refused instead of silently picked.
	proposed := map[string]json.RawMessage{}
	var refused []*ValidationError
	names := slices.Sorted(maps.Keys(changes))
	for _, name := range names {
		raw := changes[name]
		key, legacy, err := canonical(name)
		if err != nil {
			return nil, nil, err
		}
		if key == "" {
			continue
		}
		isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
		if isNull && legacy {
			continue
		}
		if isNull {
			if _, ok := cur.stored[key]; ok {
				delete(next, key)
				changed[key] = true
			}
			continue
		}
		v, err := decodeValue(key, raw)
		if err == nil {
			err = checkValue(key, v)
		}
		if raw, ok := v.(json.RawMessage); ok && err == nil && s.extCheck != nil && byKey[key] == nil {
			err = s.extCheck(key, raw)
		}
		if err != nil {
			refused = append(refused, invalid(name, err))
			continue
		}
		if equal(v, cur.values[key]) {
			continue
		}
		if prev, ok := proposed[key]; ok && !bytes.Equal(bytes.TrimSpace(prev), bytes.TrimSpace(raw)) {
			return nil, nil, invalid(name, fmt.Errorf("conflicts with another value given for %s", key))
		}
		proposed[key] = raw
		next[key] = v
		changed[key] = true
	}
	if len(refused) > 0 {
		first := refused[0]
		first.More = refused[1:]
		return nil, nil, first
	}
	if len(changed) == 0 {
		return cur, nil, nil
	}
	now := store.Now()
	snap := s.build(next, now)
	if err := crossCheck(snap); err != nil {
		return nil, nil, err
	}
	if n := snap.extCount(); n > MaxExtKeys {
		return nil, nil, invalid("ext", fmt.Errorf("at most %d extension settings, would be %d", MaxExtKeys, n))
	}
	keys := slices.Sorted(maps.Keys(changed))
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			v, ok := next[k]
			if !ok {
				if _, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE key = ?`, k); err != nil {
					return fmt.Errorf("reset setting %s: %w", k, err)
				}
				continue
			}
			data, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
				k, string(data), now); err != nil {
				return fmt.Errorf("save setting %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.cur.Store(snap)
	if s.onChange != nil {
		s.onChange(Change{Keys: keys, Snapshot: snap})
	}
	return snap, keys, nil
}

// canonical maps a name to its key and reports whether it was a legacy
// flat name. A name to ignore gives "".
func canonical(name string) (key string, legacy bool, err error) {
	if sp := byKey[name]; sp != nil {
		return sp.key, false, nil
	}
	if sp := byLegacy[name]; sp != nil {
		return sp.key, true, nil
	}
	if ignoredLegacy[name] {
		return "", true, nil
	}
	if ValidExtKey(name) {
		return name, false, nil
	}
	return "", false, invalid(name, fmt.Errorf("unknown setting"))
}

func decodeValue(key string, raw json.RawMessage) (any, error) {
	sp := byKey[key]
	if sp == nil {
		if !ValidExtKey(key) {
			return nil, fmt.Errorf("unknown setting")
		}
		if len(raw) > MaxExtValueBytes {
			return nil, fmt.Errorf("value larger than %d bytes", MaxExtValueBytes)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		return json.RawMessage(buf.Bytes()), nil
	}
	switch sp.kind {
	case kindString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("must be a string")
		}
		return s, nil
	case kindBool:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("must be true or false")
		}
		return b, nil
	default:
		var n json.Number
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil {
			return nil, fmt.Errorf("must be an integer")
		}
		i, err := n.Int64()
		if err != nil {
			return nil, fmt.Errorf("must be an integer")
		}
		return i, nil
	}
}

func checkValue(key string, v any) error {
	if sp := byKey[key]; sp != nil && sp.check != nil {
		return sp.check(v)
	}
	return nil
}

// crossCheck applies the rules that involve several keys.
func crossCheck(s *Snapshot) error {
	if s.Bool(PortalEnabled) {
		if s.String(PortalLoginRedirectURL) == "" {
			return invalid(PortalLoginRedirectURL, fmt.Errorf("is required when the auth portal is enabled"))
		}
		if s.String(PortalRegisterRedirectURL) == "" {
			return invalid(PortalRegisterRedirectURL, fmt.Errorf("is required when the auth portal is enabled"))
		}
	}
	if s.Bool(StorageEnabled) {
		if s.String(StorageEndpoint) == "" {
			return invalid(StorageEndpoint, fmt.Errorf("is required when storage is enabled"))
		}
		if s.String(StorageBucket) == "" {
			return invalid(StorageBucket, fmt.Errorf("is required when storage is enabled"))
		}
	}
	return nil
}

func equal(a, b any) bool {
	ra, aok := a.(json.RawMessage)
	rb, bok := b.(json.RawMessage)
	if aok || bok {
		return aok && bok && bytes.Equal(ra, rb)
	}
	return a == b
}

// Snapshot is the settings in force at one moment. It is immutable.
type Snapshot struct {
	values map[string]any
	stored map[string]any
	// UpdatedAt is when a setting last changed, "" if none ever did.
	UpdatedAt string
}

// String returns a string setting ("" for an unknown key).
func (s *Snapshot) String(key string) string { v, _ := s.values[key].(string); return v }

// Bool returns a boolean setting.
func (s *Snapshot) Bool(key string) bool { v, _ := s.values[key].(bool); return v }

// Int returns an integer setting.
func (s *Snapshot) Int(key string) int64 { v, _ := s.values[key].(int64); return v }

// Ext returns the JSON value of an ext.* key, if set.
func (s *Snapshot) Ext(key string) (json.RawMessage, bool) {
	v, ok := s.values[key].(json.RawMessage)
	return v, ok
}

// FunctionTimeout is the execution limit of one function call.
func (s *Snapshot) FunctionTimeout() time.Duration {
	return time.Duration(s.Int(FunctionTimeoutSeconds)) * time.Second
}

// MaxConcurrentFunctionsPerUser is how many calls one user may run at once.
func (s *Snapshot) MaxConcurrentFunctionsPerUser() int { return int(s.Int(MaxConcurrentFunctionsUser)) }

// Location is the instance's time zone.
func (s *Snapshot) Location() *time.Location {
	loc, err := time.LoadLocation(s.String(ServerTimezone))
	if err != nil {
		return time.UTC
	}
	return loc
}

// IsSet reports whether key has a stored value rather than its default.
func (s *Snapshot) IsSet(key string) bool { _, ok := s.stored[key]; return ok }

// Public returns every non-secret value by key, ext.* keys included: what
// GET shows and what the change event carries.
func (s *Snapshot) Public() map[string]any {
	out := make(map[string]any, len(s.values))
	for k, v := range s.values {
		if sp := byKey[k]; sp != nil && sp.secret {
			continue
		}
		out[k] = v
	}
	return out
}

// Legacy returns the values under the flat names of the Python TinyBase,
// secrets left out.
func (s *Snapshot) Legacy() map[string]any {
	out := map[string]any{}
	for _, sp := range specs {
		if !sp.secret {
			out[sp.legacy] = s.values[sp.key]
		}
	}
	return out
}

func (s *Snapshot) extCount() int {
	n := 0
	for k := range s.values {
		if byKey[k] == nil {
			n++
		}
	}
	return n
}
