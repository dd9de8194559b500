// Package functions describes the functions a deployment knows: their
// metadata as workers report it, the in-memory registry the api serves from,
// and the rules for names and auth levels.
package functions

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Auth levels a function declares.
const (
	// AuthPublic functions may be called by anyone.
	AuthPublic = "public"
	// AuthUser functions need a signed-in caller. It is the SDK's default.
	AuthUser = "auth"
	// AuthAdmin functions need an admin caller.
	AuthAdmin = "admin"
)

// MaxNameLen is the longest function name, the column width the reference
// uses.
const MaxNameLen = 100

// MaxFileNameLen is the longest function file name.
const MaxFileNameLen = 200

// metaKeyPrefix starts every function's key in the metadata KV bucket.
const metaKeyPrefix = "file."

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fileNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// ValidName reports whether name can name a function: a lower-case letter,
// then lower-case letters, digits and underscores, at most MaxNameLen bytes.
// The same rule keeps names safe as file names and bus subject tokens.
func ValidName(name string) bool {
	return len(name) <= MaxNameLen && nameRE.MatchString(name)
}

// ValidFileName reports whether file can be published as a function: ASCII
// letters, digits, '_', '-' and '.', without a leading, trailing or doubled
// dot, at most MaxFileNameLen bytes. That excludes hidden files and path
// separators, and keeps MetaKey(file) a valid bus KV key (dots separate its
// tokens, which must not be empty).
func ValidFileName(file string) bool {
	return len(file) <= MaxFileNameLen && fileNameRE.MatchString(file)
}

// MetaKey returns the key under which the metadata of the function in file
// is stored in the bus KV bucket. Metadata is keyed by file, not by function
// name, because the name is only known once a worker has described the file.
func MetaKey(file string) string { return metaKeyPrefix + file }

// FileOfMetaKey returns the file a MetaKey was made from, or "" when key is
// not a valid function metadata key.
func FileOfMetaKey(key string) string {
	file, ok := strings.CutPrefix(key, metaKeyPrefix)
	if !ok || !ValidFileName(file) {
		return ""
	}
	return file
}

// ValidAuth reports whether auth is one of the declared auth levels.
func ValidAuth(auth string) bool {
	return auth == AuthPublic || auth == AuthUser || auth == AuthAdmin
}

// CanCall reports whether a caller may see and call a function declaring
// auth. A missing level means AuthUser, the SDK's default; an unknown level
// is treated as AuthAdmin, so a typo never opens a function to the public.
// An unauthenticated caller gets ErrAuthRequired even for admin functions,
// matching the reference's 401 before 403.
func CanCall(auth string, authenticated, admin bool) error {
	switch auth {
	case AuthPublic:
		return nil
	case AuthUser, "":
		if !authenticated {
			return ErrAuthRequired
		}
		return nil
	default:
		if !authenticated {
			return ErrAuthRequired
		}
		if !admin {
			return ErrAdminRequired
		}
		return nil
	}
}

// Meta describes one deployed function. Workers publish it to the bus KV
// bucket after describing a function, so its JSON form is a contract between
// versions: fields are only ever added.
type Meta struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Auth         string          `json:"auth"`
	Tags         []string        `json:"tags"`
	InputSchema  json.RawMessage `json:"input_schema"`
	OutputSchema json.RawMessage `json:"output_schema"`
	// Bundle is the object name of the function's code in the bundle store.
	Bundle string `json:"bundle"`
	// Digest is the hex SHA-256 of the bundle.
	Digest string `json:"digest"`
	// File is the function's file name in the functions directory.
	File      string `json:"file"`
	UpdatedAt string `json:"updated_at"`
	// Error is set instead of the describing fields when the worker could
	// not describe the file; such an entry is never put in a Registry.
	Error string `json:"error,omitempty"`
	// VersionID is the api's record of this content (pkg/versions); the
	// api fills it in, workers leave it empty.
	VersionID string `json:"version_id,omitempty"`
}

// clone returns a deep copy of m with nil Tags replaced by an empty list, so
// the registry never shares slices with its callers.
func (m Meta) clone() Meta {
	m.Tags = slices.Clone(m.Tags)
	if m.Tags == nil {
		m.Tags = []string{}
	}
	m.InputSchema = slices.Clone(m.InputSchema)
	m.OutputSchema = slices.Clone(m.OutputSchema)
	return m
}

// String returns the name and auth level, for logs.
func (m Meta) String() string { return fmt.Sprintf("%s (%s)", m.Name, m.Auth) }

// Registry is the api's view of the deployed functions, keyed by name. It is
// safe for concurrent use and hands out copies, never its own state. The
// zero value is an empty registry ready to use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Meta
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Meta{}} }

// Put adds or replaces the function m.Name. Callers check ValidName first.
func (r *Registry) Put(m Meta) {
	m = m.clone()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]Meta{}
	}
	r.m[m.Name] = m
}

// Delete removes the function name, if present.
func (r *Registry) Delete(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, name)
}

// Get returns the function name.
func (r *Registry) Get(name string) (Meta, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.m[name]
	if !ok {
		return Meta{}, false
	}
	return m.clone(), true
}

// List returns every function, sorted by name.
func (r *Registry) List() []Meta {
	return r.filter(func(Meta) bool { return true })
}

// Visible returns the functions a caller may see, sorted by name: anonymous
// callers see public functions, signed-in users also those needing auth, and
// admins all.
func (r *Registry) Visible(isAuthenticated, isAdmin bool) []Meta {
	return r.filter(func(m Meta) bool { return CanCall(m.Auth, isAuthenticated, isAdmin) == nil })
}

func (r *Registry) filter(keep func(Meta) bool) []Meta {
	r.mu.RLock()
	out := make([]Meta, 0, len(r.m))
	for _, m := range r.m {
		if keep(m) {
			out = append(out, m.clone())
		}
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
