package functions

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"add_numbers", true},
		{"f2", true},
		{"a_", true},
		{strings.Repeat("a", MaxNameLen), true},
		{strings.Repeat("a", MaxNameLen+1), false},
		{"", false},
		{"_a", false},
		{"2f", false},
		{"Add", false},
		{"add-numbers", false},
		{"a.b", false},
		{"a b", false},
		{"../a", false},
		{"a*", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.name); got != tt.ok {
			t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestCanCall(t *testing.T) {
	tests := []struct {
		auth                 string
		authenticated, admin bool
		err                  error
	}{
		{AuthPublic, false, false, nil},
		{AuthPublic, true, false, nil},
		{AuthPublic, true, true, nil},
		{AuthUser, false, false, ErrAuthRequired},
		{AuthUser, true, false, nil},
		{AuthUser, true, true, nil},
		{"", false, false, ErrAuthRequired},
		{"", true, false, nil},
		{AuthAdmin, false, false, ErrAuthRequired},
		{AuthAdmin, true, false, ErrAdminRequired},
		{AuthAdmin, true, true, nil},
		{"Public", false, false, ErrAuthRequired},
		{"Public", true, false, ErrAdminRequired},
		{"everyone", true, true, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/auth=%v/admin=%v", tt.auth, tt.authenticated, tt.admin), func(t *testing.T) {
			if err := CanCall(tt.auth, tt.authenticated, tt.admin); !errors.Is(err, tt.err) {
				t.Errorf("CanCall = %v, want %v", err, tt.err)
			}
		})
	}
}

func names(ms []Meta) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestRegistryVisible(t *testing.T) {
	var r Registry // the zero value is usable
	for _, m := range []Meta{
		{Name: "zeta", Auth: AuthPublic},
		{Name: "alpha", Auth: AuthPublic},
		{Name: "mine", Auth: AuthUser},
		{Name: "default"},
		{Name: "ops", Auth: AuthAdmin},
		{Name: "typo", Auth: "pubic"},
	} {
		r.Put(m)
	}
	tests := []struct {
		name                 string
		authenticated, admin bool
		want                 []string
	}{
		{"anonymous", false, false, []string{"alpha", "zeta"}},
		{"user", true, false, []string{"alpha", "default", "mine", "zeta"}},
		{"admin", true, true, []string{"alpha", "default", "mine", "ops", "typo", "zeta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(r.Visible(tt.authenticated, tt.admin)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Visible = %v, want %v", got, tt.want)
			}
		})
	}
	all := []string{"alpha", "default", "mine", "ops", "typo", "zeta"}
	if got := names(r.List()); !reflect.DeepEqual(got, all) {
		t.Errorf("List = %v, want %v", got, all)
	}
}

func TestRegistryPutGetDelete(t *testing.T) {
	r := NewRegistry()
	if _, ok := r.Get("f"); ok {
		t.Fatal("Get on empty registry found f")
	}
	tags := []string{"math"}
	schema := json.RawMessage(`{"type":"object"}`)
	r.Put(Meta{Name: "f", Auth: AuthPublic, Tags: tags, InputSchema: schema, Digest: "d1"})

	// The registry keeps its own copy of the caller's slices.
	tags[0] = "changed"
	schema[2] = 'X'
	m, ok := r.Get("f")
	if !ok || m.Tags[0] != "math" || string(m.InputSchema) != `{"type":"object"}` {
		t.Fatalf("Get = %+v, %v", m, ok)
	}
	// And hands out copies.
	m.Tags[0] = "mutated"
	if m2, _ := r.Get("f"); m2.Tags[0] != "math" {
		t.Errorf("Get returned shared state: %v", m2.Tags)
	}

	r.Put(Meta{Name: "f", Auth: AuthAdmin, Digest: "d2"})
	if m, _ := r.Get("f"); m.Digest != "d2" || m.Auth != AuthAdmin || m.Tags == nil || len(m.Tags) != 0 {
		t.Errorf("replaced = %+v", m)
	}
	r.Delete("f")
	r.Delete("never-there")
	if _, ok := r.Get("f"); ok || len(r.List()) != 0 {
		t.Error("f still present after Delete")
	}
}

func TestMetaJSON(t *testing.T) {
	m := Meta{Name: "f", Description: "d", Auth: AuthUser, Tags: []string{"t"},
		InputSchema: json.RawMessage(`{"type":"object"}`),
		Bundle:      "f.tar", Digest: "abc", File: "f.py", UpdatedAt: "2026-01-31T12:00:00.000000Z"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"f","description":"d","auth":"auth","tags":["t"],"input_schema":{"type":"object"},` +
		`"output_schema":null,"bundle":"f.tar","digest":"abc","file":"f.py","updated_at":"2026-01-31T12:00:00.000000Z"}`
	if string(b) != want {
		t.Errorf("Meta JSON\n got %s\nwant %s", b, want)
	}
	var back Meta
	err = json.Unmarshal(b, &back)
	if err != nil || back.Name != m.Name || string(back.InputSchema) != string(m.InputSchema) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

// TestRegistryConcurrent exercises the registry from many goroutines; run it
// with -race.
func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				name := fmt.Sprintf("f%d", j%10)
				switch (i + j) % 4 {
				case 0:
					r.Put(Meta{Name: name, Auth: AuthPublic, Tags: []string{"x"}})
				case 1:
					if m, ok := r.Get(name); ok {
						m.Tags = append(m.Tags, "y")
					}
				case 2:
					for _, m := range r.Visible(true, false) {
						m.Tags = append(m.Tags[:0], "z")
					}
				case 3:
					r.Delete(name)
				}
			}
		})
	}
	wg.Wait()
	for _, m := range r.List() {
		if !reflect.DeepEqual(m.Tags, []string{"x"}) {
			t.Errorf("%s tags = %v, want [x]", m.Name, m.Tags)
		}
	}
}

func TestValidFileName(t *testing.T) {
	tests := []struct {
		file string
		ok   bool
	}{
		{"add_numbers.py", true},
		{"Hello-World.v2.py", true},
		{"tool", true},
		{"a.b.c", true},
		{strings.Repeat("a", MaxFileNameLen), true},
		{strings.Repeat("a", MaxFileNameLen+1), false},
		{"", false},
		{".hidden.py", false},
		{"trailing.", false},
		{"a..py", false},
		{"..", false},
		{"dir/x.py", false},
		{`dir\x.py`, false},
		{"a b.py", false},
		{"a*.py", false},
		{"a>b", false},
		{"é.py", false},
	}
	for _, tt := range tests {
		if got := ValidFileName(tt.file); got != tt.ok {
			t.Errorf("ValidFileName(%q) = %v, want %v", tt.file, got, tt.ok)
		}
		key := MetaKey(tt.file)
		if got := FileOfMetaKey(key); (got != "" && got == tt.file) != tt.ok {
			t.Errorf("FileOfMetaKey(MetaKey(%q)) = %q", tt.file, got)
		}
	}
	for _, key := range []string{"", "file.", "add_numbers.py", "lease.file.x", "file..x"} {
		if got := FileOfMetaKey(key); got != "" {
			t.Errorf("FileOfMetaKey(%q) = %q, want empty", key, got)
		}
	}
}
