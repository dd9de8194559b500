package settings

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // time zones validate the same on hosts without a zoneinfo database
	"unicode/utf8"
)

// Core keys. Each has a type, a default and a validation rule; see specs.
const (
	InstanceName               = "core.instance_name"
	ServerTimezone             = "core.server_timezone"
	AllowPublicRegistration    = "core.auth.allow_public_registration"
	PortalEnabled              = "core.auth.portal.enabled"
	PortalLogoURL              = "core.auth.portal.logo_url"
	PortalPrimaryColor         = "core.auth.portal.primary_color"
	PortalBackgroundImageURL   = "core.auth.portal.background_image_url"
	PortalLoginRedirectURL     = "core.auth.portal.login_redirect_url"
	PortalRegisterRedirectURL  = "core.auth.portal.register_redirect_url"
	StorageEnabled             = "core.storage.enabled"
	StorageEndpoint            = "core.storage.endpoint"
	StorageBucket              = "core.storage.bucket"
	StorageRegion              = "core.storage.region"
	StorageAccessKey           = "core.storage.access_key"
	StorageSecretKey           = "core.storage.secret_key"
	FunctionTimeoutSeconds     = "core.scheduler.function_timeout_seconds"
	MaxConcurrentFunctionsUser = "core.limits.max_concurrent_functions_per_user"
	AdminReportEnabled         = "core.jobs.admin_report.enabled"
	ActivityRetentionDays      = "core.activity.retention_days"
)

// ExtPrefix starts the keys extensions own: ext.<extension>.<key>.
const ExtPrefix = "ext."

// Limits on extension keys and values.
const (
	MaxExtValueBytes = 64 << 10
	MaxExtKeys       = 1000
	MaxTimeoutSecs   = 24 * 60 * 60
	// MaxRetentionDays caps core.activity.retention_days at ten years.
	MaxRetentionDays = 3650
)

// kind is the JSON type of a core setting.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
)

// spec describes one core key.
type spec struct {
	key string
	// legacy is the flat name the Python TinyBase used in
	// GET/PATCH /api/admin/settings; the same value answers to both names.
	legacy string
	kind   kind
	// def is the default; for ints taken from the static configuration it
	// is filled in from Defaults.
	def any
	// secret values are write-only: never returned, logged or published.
	secret bool
	// check validates a new value alone; rules across keys are in crossCheck.
	check func(v any) error
}

func maxLen(n int) func(any) error {
	return func(v any) error {
		if utf8.RuneCountInString(v.(string)) > n {
			return fmt.Errorf("must be at most %d characters", n)
		}
		return nil
	}
}

func intRange(lo, hi int64) func(any) error {
	return func(v any) error {
		if n := v.(int64); n < lo || n > hi {
			return fmt.Errorf("must be between %d and %d", lo, hi)
		}
		return nil
	}
}

// httpURL accepts "" or an absolute http(s) URL with a host.
func httpURL(limit int) func(any) error {
	return func(v any) error {
		s := v.(string)
		if s == "" {
			return nil
		}
		if err := maxLen(limit)(v); err != nil {
			return err
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("must be an absolute http:// or https:// URL, got %q", s)
		}
		return nil
	}
}

// redirectURL is httpURL that also refuses the admin UI, so a portal
// cannot send freshly signed-in users to a page that holds admin rights.
func redirectURL(v any) error {
	if err := httpURL(500)(v); err != nil {
		return err
	}
	if u, _ := url.Parse(v.(string)); u != nil {
		// Clean first: "//admin" and "/x/../admin" reach the admin UI too.
		p := strings.ToLower(path.Clean("/" + u.Path))
		if p == "/admin" || strings.HasPrefix(p, "/admin/") {
			return fmt.Errorf("must not point to /admin URLs; use your application's URL instead")
		}
	}
	return nil
}

var colorRE = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

func color(v any) error {
	if s := v.(string); s != "" && !colorRE.MatchString(s) {
		return fmt.Errorf("must be a colour like #3366ff, got %q", s)
	}
	return nil
}

func timezone(v any) error {
	s := v.(string)
	if s == "" || s == "Local" {
		return fmt.Errorf("Invalid timezone: %q", s)
	}
	if _, err := time.LoadLocation(s); err != nil {
		return fmt.Errorf("Invalid timezone: %s", s)
	}
	return nil
}

func nonEmpty(limit int) func(any) error {
	return func(v any) error {
		if strings.TrimSpace(v.(string)) == "" {
			return fmt.Errorf("must not be empty")
		}
		return maxLen(limit)(v)
	}
}

// specs lists every core key in the order GET shows them.
var specs = []spec{
	{key: InstanceName, legacy: "instance_name", kind: kindString, def: "TinyBase", check: nonEmpty(100)},
	{key: ServerTimezone, legacy: "server_timezone", kind: kindString, def: "UTC", check: timezone},
	{key: AllowPublicRegistration, legacy: "allow_public_registration", kind: kindBool, def: true},
	{key: PortalEnabled, legacy: "auth_portal_enabled", kind: kindBool, def: false},
	{key: PortalLogoURL, legacy: "auth_portal_logo_url", kind: kindString, def: "", check: httpURL(500)},
	{key: PortalPrimaryColor, legacy: "auth_portal_primary_color", kind: kindString, def: "", check: color},
	{key: PortalBackgroundImageURL, legacy: "auth_portal_background_image_url", kind: kindString, def: "",
		check: httpURL(500)},
	{key: PortalLoginRedirectURL, legacy: "auth_portal_login_redirect_url", kind: kindString, def: "",
		check: redirectURL},
	{key: PortalRegisterRedirectURL, legacy: "auth_portal_register_redirect_url", kind: kindString, def: "",
		check: redirectURL},
	{key: StorageEnabled, legacy: "storage_enabled", kind: kindBool, def: false},
	{key: StorageEndpoint, legacy: "storage_endpoint", kind: kindString, def: "", check: httpURL(500)},
	{key: StorageBucket, legacy: "storage_bucket", kind: kindString, def: "", check: maxLen(100)},
	{key: StorageRegion, legacy: "storage_region", kind: kindString, def: "", check: maxLen(50)},
	{key: StorageAccessKey, legacy: "storage_access_key", kind: kindString, def: "", secret: true, check: maxLen(200)},
	{key: StorageSecretKey, legacy: "storage_secret_key", kind: kindString, def: "", secret: true, check: maxLen(200)},
	{key: FunctionTimeoutSeconds, legacy: "scheduler_function_timeout_seconds", kind: kindInt,
		check: intRange(1, MaxTimeoutSecs)},
	{key: MaxConcurrentFunctionsUser, legacy: "max_concurrent_functions_per_user", kind: kindInt,
		check: intRange(1, 100000)},
	{key: AdminReportEnabled, legacy: "admin_report_enabled", kind: kindBool, def: true},
	{key: ActivityRetentionDays, legacy: "activity_retention_days", kind: kindInt, def: int64(30),
		check: intRange(0, MaxRetentionDays)},
}

// ignoredLegacy are keys the Python TinyBase shows in its settings that
// have no effect here (its token cleanup and metrics ticks, scheduler
// batch sizes). PATCH accepts and ignores them, so a client that sends
// back what it read keeps working.
var ignoredLegacy = map[string]bool{
	"token_cleanup_interval": true, "metrics_collection_interval": true,
	"scheduler_max_schedules_per_tick": true, "scheduler_max_concurrent_executions": true,
	"updated_at": true,
}

var (
	byKey    = map[string]*spec{}
	byLegacy = map[string]*spec{}
)

func init() {
	for i := range specs {
		byKey[specs[i].key] = &specs[i]
		byLegacy[specs[i].legacy] = &specs[i]
	}
}

var (
	extNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	extPartRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
)

// ValidExtKey reports whether key is ext.<extension>.<key>[.<key>…] with
// lower-case names.
func ValidExtKey(key string) bool {
	rest, ok := strings.CutPrefix(key, ExtPrefix)
	if !ok || len(key) > 255 {
		return false
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 2 || !extNameRE.MatchString(parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if !extPartRE.MatchString(p) {
			return false
		}
	}
	return true
}
