package collections

import (
	"encoding/json"
	"strings"
)

// Actions that access rules govern.
const (
	ActionList   = "list"
	ActionRead   = "read"
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Access rules, set per action in a collection's options.access.
const (
	// RulePublic lets anyone through, signed in or not.
	RulePublic = "public"
	// RuleAuth requires a signed-in caller.
	RuleAuth = "auth"
	// RuleOwner requires a signed-in caller who owns the record, or a record
	// without owner. For list it limits the caller to their own records.
	RuleOwner = "owner"
	// RuleAdmin requires an admin.
	RuleAdmin = "admin"
)

// defaultRules are TinyBase's defaults: anyone may read, signed-in users may
// create, owners may change and delete.
var defaultRules = map[string]string{
	ActionList:   RulePublic,
	ActionRead:   RulePublic,
	ActionCreate: RuleAuth,
	ActionUpdate: RuleOwner,
	ActionDelete: RuleOwner,
}

// Caller is who is asking. The zero Caller is anonymous.
type Caller struct {
	UserID  string
	IsAdmin bool
}

// Rule returns the access rule for action: the one in options.access, else
// the default. Rule names are matched case-insensitively; an unknown rule
// name means RuleAuth, and an unknown action means RuleAdmin, so that a
// mistake never opens more than it should.
func (c Collection) Rule(action string) string {
	def, ok := defaultRules[action]
	if !ok {
		return RuleAdmin
	}
	var opts struct {
		Access map[string]json.RawMessage `json:"access"`
	}
	if json.Unmarshal(c.Options, &opts) != nil {
		return def
	}
	v, ok := opts.Access[action]
	if !ok || isNull(v) {
		return def
	}
	var rule string
	if json.Unmarshal(v, &rule) != nil {
		return RuleAuth
	}
	return normaliseRule(rule)
}

func normaliseRule(rule string) string {
	switch r := strings.ToLower(strings.TrimSpace(rule)); r {
	case RulePublic, RuleAuth, RuleOwner, RuleAdmin:
		return r
	}
	return RuleAuth
}

// Allowed reports whether caller passes rule for a record owned by ownerID
// (nil for a record without owner, or for actions without a record such as
// create, where owner means any signed-in caller). Admins always pass.
//
// The HTTP layer also requires a signed-in caller for create, update and
// delete whatever the rule says, as TinyBase does.
func Allowed(rule string, caller Caller, ownerID *string) bool {
	if caller.IsAdmin {
		return true
	}
	signedIn := caller.UserID != ""
	switch normaliseRule(rule) {
	case RulePublic:
		return true
	case RuleOwner:
		return signedIn && (ownerID == nil || *ownerID == caller.UserID)
	case RuleAdmin:
		return false
	default:
		return signedIn
	}
}

// ListScope applies the list rule: whether caller may list at all, and if
// so, the owner to restrict the listing to (nil for every record). Under
// RuleOwner a signed-in caller sees only records they own; TinyBase showed
// every record there, which leaked other users' data.
func ListScope(rule string, caller Caller) (allowed bool, ownerFilter *string) {
	if caller.IsAdmin {
		return true, nil
	}
	if normaliseRule(rule) == RuleOwner {
		if caller.UserID == "" {
			return false, nil
		}
		id := caller.UserID
		return true, &id
	}
	return Allowed(rule, caller, nil), nil
}
