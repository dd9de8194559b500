package collections

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

func TestRule(t *testing.T) {
	tests := []struct {
		options string
		action  string
		want    string
	}{
		{`{}`, ActionList, RulePublic},
		{`{}`, ActionRead, RulePublic},
		{`{}`, ActionCreate, RuleAuth},
		{`{}`, ActionUpdate, RuleOwner},
		{`{}`, ActionDelete, RuleOwner},
		{`{}`, "truncate", RuleAdmin},
		{`{"access": {"list": "admin", "read": "Owner"}}`, ActionList, RuleAdmin},
		{`{"access": {"list": "admin", "read": "Owner"}}`, ActionRead, RuleOwner},
		{`{"access": {"list": "admin"}}`, ActionCreate, RuleAuth},
		{`{"access": {"update": "public"}}`, ActionUpdate, RulePublic},
		{`{"access": {"delete": "everyone"}}`, ActionDelete, RuleAuth},
		{`{"access": {"read": null}}`, ActionRead, RulePublic},
		{`{"access": {"read": 3}}`, ActionRead, RuleAuth},
	}
	for _, tt := range tests {
		t.Run(tt.options+"/"+tt.action, func(t *testing.T) {
			c := Collection{Options: json.RawMessage(tt.options)}
			if got := c.Rule(tt.action); got != tt.want {
				t.Errorf("Rule(%q) = %q, want %q", tt.action, got, tt.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	var (
		anon  = Caller{}
		alice = Caller{UserID: "alice"}
		bob   = Caller{UserID: "bob"}
		admin = Caller{UserID: "root", IsAdmin: true}
		owned = ptr("alice")
	)
	tests := []struct {
		rule   string
		caller Caller
		owner  *string
		want   bool
	}{
		{RulePublic, anon, nil, true},
		{RulePublic, anon, owned, true},
		{RuleAuth, anon, nil, false},
		{RuleAuth, bob, owned, true},
		{RuleOwner, anon, nil, false},
		{RuleOwner, alice, owned, true},
		{RuleOwner, bob, owned, false},
		{RuleOwner, bob, nil, true}, // no owner: any signed-in caller
		{RuleAdmin, alice, owned, false},
		{RuleAdmin, admin, nil, true},
		{RuleOwner, admin, owned, true},
		{"nonsense", anon, nil, false},
		{"nonsense", bob, nil, true},
	}
	for _, tt := range tests {
		owner := "<none>"
		if tt.owner != nil {
			owner = *tt.owner
		}
		t.Run(fmt.Sprintf("%s/%+v/%s", tt.rule, tt.caller, owner), func(t *testing.T) {
			if got := Allowed(tt.rule, tt.caller, tt.owner); got != tt.want {
				t.Errorf("Allowed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestListScope(t *testing.T) {
	tests := []struct {
		rule        string
		caller      Caller
		wantAllowed bool
		wantOwner   string // "" for no filter
	}{
		{RulePublic, Caller{}, true, ""},
		{RuleAuth, Caller{}, false, ""},
		{RuleAuth, Caller{UserID: "u"}, true, ""},
		{RuleOwner, Caller{}, false, ""},
		{RuleOwner, Caller{UserID: "u"}, true, "u"},
		{RuleOwner, Caller{UserID: "root", IsAdmin: true}, true, ""},
		{RuleAdmin, Caller{UserID: "u"}, false, ""},
		{RuleAdmin, Caller{UserID: "root", IsAdmin: true}, true, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%+v", tt.rule, tt.caller), func(t *testing.T) {
			allowed, owner := ListScope(tt.rule, tt.caller)
			got := ""
			if owner != nil {
				got = *owner
			}
			if allowed != tt.wantAllowed || got != tt.wantOwner {
				t.Errorf("ListScope = %v, %q; want %v, %q", allowed, got, tt.wantAllowed, tt.wantOwner)
			}
		})
	}
}

// TestOwnerListScope runs the owner list rule end to end: each user sees
// only their own records, an admin sees all.
func TestOwnerListScope(t *testing.T) {
	s, db := newTestService(t)
	ctx := context.Background()
	c, err := s.Create(ctx, CreateInput{Name: "diary", Label: "Diary",
		Options: json.RawMessage(`{"access": {"list": "owner", "read": "owner"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := addUser(t, db, "alice@example.com"), addUser(t, db, "bob@example.com")
	for _, owner := range []string{alice, alice, bob} {
		if _, err := s.CreateRecord(ctx, "diary", &owner, nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		caller    Caller
		wantTotal int
		wantOwner string
	}{
		{"alice", Caller{UserID: alice}, 2, alice},
		{"bob", Caller{UserID: bob}, 1, bob},
		{"admin", Caller{UserID: "root", IsAdmin: true}, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allowed, filter := ListScope(c.Rule(ActionList), tt.caller)
			if !allowed {
				t.Fatal("not allowed to list")
			}
			p, err := s.ListRecords(ctx, "diary", ListOptions{OwnerID: filter})
			if err != nil {
				t.Fatal(err)
			}
			if *p.Total != tt.wantTotal || len(p.Records) != tt.wantTotal {
				t.Fatalf("total = %d, records = %d, want %d", *p.Total, len(p.Records), tt.wantTotal)
			}
			for _, r := range p.Records {
				if tt.wantOwner != "" && *r.OwnerID != tt.wantOwner {
					t.Errorf("saw record of %s", *r.OwnerID)
				}
				if !Allowed(c.Rule(ActionRead), tt.caller, r.OwnerID) {
					t.Errorf("listed record %s is not readable by the caller", r.ID)
				}
			}
		})
	}
	if allowed, _ := ListScope(c.Rule(ActionList), Caller{}); allowed {
		t.Error("anonymous caller may list an owner-only collection")
	}
}
