// Package config loads TinyBase's static configuration.
//
// Values come from three layers, later ones winning: the defaults in
// Default, the project's tinybase.toml, then TINYBASE_* environment
// variables. Generated secrets live apart from the file, in .tinybase/
// (see secrets.go), so tinybase.toml can be committed.
package config

import (
	"time"
)

// FileName is the configuration file looked up in the project folder.
const FileName = "tinybase.toml"

// StateDir is the folder, inside the project, that holds secrets, the bus
// store and worker caches.
const StateDir = ".tinybase"

// Config is the whole static configuration. Field comments give defaults.
type Config struct {
	Server     Server     `toml:"server"`
	Database   Database   `toml:"database"`
	Auth       Auth       `toml:"auth"`
	JWT        JWT        `toml:"jwt"`
	Functions  Functions  `toml:"functions"`
	Worker     Worker     `toml:"worker"`
	Scheduler  Scheduler  `toml:"scheduler"`
	RateLimit  RateLimit  `toml:"rate_limit"`
	CORS       CORS       `toml:"cors"`
	Admin      Admin      `toml:"admin"`
	Extensions Extensions `toml:"extensions"`
	Public     Public     `toml:"public"`
	Email      Email      `toml:"email"`
	Bus        Bus        `toml:"bus"`

	// Dir is the project folder every relative path is resolved against.
	Dir string `toml:"-"`
	// File is the configuration file that was read, or "" when none exists.
	File string `toml:"-"`
	// Secrets are the generated credentials from .tinybase/secrets.json,
	// possibly overridden by the environment.
	Secrets Secrets `toml:"-"`
	// Warnings lists unknown keys and other non-fatal findings.
	Warnings []string `toml:"-"`
	// fromEnv maps dotted keys set from the environment to their variable,
	// so errors name the variable rather than the file.
	fromEnv map[string]string
}

// Server configures the HTTP listener of the api role.
type Server struct {
	// Host is the bind address. Default "0.0.0.0".
	Host string `toml:"host" env:"TINYBASE_SERVER_HOST"`
	// Port is the HTTP port. Default 8000.
	Port int `toml:"port" env:"TINYBASE_SERVER_PORT"`
	// Debug enables debug logging. Default false.
	Debug bool `toml:"debug" env:"TINYBASE_DEBUG"`
	// LogLevel is one of debug, info, warn, error. Default "info".
	LogLevel string `toml:"log_level" env:"TINYBASE_LOG_LEVEL"`
	// LogFormat is "text" or "json". Default "text".
	LogFormat string `toml:"log_format" env:"TINYBASE_LOG_FORMAT"`
	// PublicURL is the address function processes and emails use to reach
	// the API. Default "" (http://127.0.0.1:<port>).
	PublicURL string `toml:"public_url" env:"TINYBASE_SERVER_PUBLIC_URL"`
	// BodyLimitBytes caps request bodies. Default 11 MiB.
	BodyLimitBytes int `toml:"body_limit_bytes" env:"TINYBASE_SERVER_BODY_LIMIT_BYTES"`
}

// Database locates the SQLite file.
type Database struct {
	// URL is "sqlite:///<path>" (relative to the project) or a plain path.
	// Default "sqlite:///./tinybase.db".
	URL string `toml:"url" env:"TINYBASE_DB_URL"`
}

// Auth configures accounts and password hashing.
type Auth struct {
	// TokenTTLHours is kept for compatibility; [jwt] decides lifetimes.
	TokenTTLHours int `toml:"token_ttl_hours" env:"TINYBASE_AUTH_TOKEN_TTL_HOURS"`
	// BcryptCost is the bcrypt work factor. Default 12.
	BcryptCost int `toml:"bcrypt_cost" env:"TINYBASE_AUTH_BCRYPT_COST"`
	// HashConcurrency bounds simultaneous password hashes. Default 0 (half the CPUs, at least one).
	HashConcurrency int `toml:"hash_concurrency" env:"TINYBASE_AUTH_HASH_CONCURRENCY"`
	// PasswordResetTTLMinutes is how long a password reset link works. Default 60.
	PasswordResetTTLMinutes int `toml:"password_reset_ttl_minutes" env:"TINYBASE_AUTH_PASSWORD_RESET_TTL_MINUTES"`
}

// JWT configures token signing and lifetimes.
type JWT struct {
	// Algorithm is the only accepted signing algorithm. Default "HS256".
	Algorithm string `toml:"algorithm" env:"TINYBASE_JWT_ALGORITHM"`
	// AccessTokenExpireMinutes is the access token lifetime. Default 1440.
	AccessTokenExpireMinutes int `toml:"access_token_expire_minutes" env:"TINYBASE_JWT_ACCESS_TOKEN_EXPIRE_MINUTES"`
	// RefreshTokenExpireDays is the refresh token lifetime. Default 30.
	RefreshTokenExpireDays int `toml:"refresh_token_expire_days" env:"TINYBASE_JWT_REFRESH_TOKEN_EXPIRE_DAYS"`
	// LeewaySeconds is the clock skew tolerated when checking expiry. Default 5.
	LeewaySeconds int `toml:"leeway_seconds" env:"TINYBASE_JWT_LEEWAY_SECONDS"`
}

// Functions configures function discovery and execution.
type Functions struct {
	// Dir holds the function files. Default "./functions".
	Dir string `toml:"dir" env:"TINYBASE_FUNCTIONS_DIR"`
	// LoggingEnabled forwards function log lines to the worker log. Default true.
	LoggingEnabled bool `toml:"logging_enabled" env:"TINYBASE_FUNCTIONS_LOGGING_ENABLED"` // TODO(function-logging): unused

	// LoggingLevel is passed to the SDK logger. Default "INFO".
	LoggingLevel string `toml:"logging_level" env:"TINYBASE_FUNCTIONS_LOGGING_LEVEL"`
	// LoggingFormat is passed to the SDK logger. Default "json".
	LoggingFormat string `toml:"logging_format" env:"TINYBASE_FUNCTIONS_LOGGING_FORMAT"`
	// ColdStartPoolSize is the number of warm processes kept per function
	// on each worker. 0 starts a fresh process for every call. Default 3.
	ColdStartPoolSize int `toml:"cold_start_pool_size" env:"TINYBASE_FUNCTIONS_COLD_START_POOL_SIZE"`
	// ColdStartTTLSeconds stops warm processes idle this long. Default 300.
	ColdStartTTLSeconds int `toml:"cold_start_ttl_seconds" env:"TINYBASE_FUNCTIONS_COLD_START_TTL_SECONDS"`
	// TimeoutSeconds is the execution limit of one call. Default 1800.
	TimeoutSeconds int `toml:"timeout_seconds" env:"TINYBASE_FUNCTIONS_TIMEOUT_SECONDS"`
	// MaxPayloadBytes caps a call's JSON payload. Default 10485760.
	MaxPayloadBytes int `toml:"max_payload_bytes" env:"TINYBASE_FUNCTIONS_MAX_PAYLOAD_BYTES"`
	// MaxResultBytes caps a call's JSON result. Default 10485760.
	MaxResultBytes int `toml:"max_result_bytes" env:"TINYBASE_FUNCTIONS_MAX_RESULT_BYTES"`
	// ScanIntervalSeconds is how often the api looks for changed function
	// files. Default 2.
	ScanIntervalSeconds int `toml:"scan_interval_seconds" env:"TINYBASE_FUNCTIONS_SCAN_INTERVAL_SECONDS"`
}

// Worker configures worker daemons.
type Worker struct {
	// Count is how many workers `tinybase serve` starts. Default 2.
	Count int `toml:"count" env:"TINYBASE_WORKER_COUNT"`
	// Concurrency is the number of calls one worker runs at once. Default 4.
	Concurrency int `toml:"concurrency" env:"TINYBASE_WORKER_CONCURRENCY"`
	// DrainSeconds is how long a stopping worker lets in-flight calls run
	// before handing them back to the queue. Default 30.
	DrainSeconds int `toml:"drain_seconds" env:"TINYBASE_WORKER_DRAIN_SECONDS"`
	// FunctionUser is the account function processes run as when the
	// worker runs as root; they also get a PID namespace of their own.
	// Default "nobody". A worker not running as root cannot switch users
	// and runs functions as itself (it logs a warning).
	FunctionUser string `toml:"function_user" env:"TINYBASE_WORKER_FUNCTION_USER"`
}

// Scheduler configures the scheduler role.
type Scheduler struct {
	// Enabled starts the scheduler under `tinybase serve`. Default true.
	Enabled bool `toml:"enabled" env:"TINYBASE_SCHEDULER_ENABLED"`
	// IntervalSeconds is kept for compatibility; the scheduler is event driven.
	IntervalSeconds int `toml:"interval_seconds" env:"TINYBASE_SCHEDULER_INTERVAL_SECONDS"`
	// LeaseSeconds is how long a leader lease lasts without renewal. Default 10.
	LeaseSeconds int `toml:"lease_seconds" env:"TINYBASE_SCHEDULER_LEASE_SECONDS"`
	// MissedRunGraceSeconds is how late a schedule may still run: after
	// downtime, due runs are coalesced into one if the latest is at most
	// this old, and skipped (and counted) otherwise. Default 3600.
	MissedRunGraceSeconds int `toml:"missed_run_grace_seconds" env:"TINYBASE_SCHEDULER_MISSED_RUN_GRACE_SECONDS"`
}

// RateLimit configures request limits. The limiter lives in the api's memory.
type RateLimit struct {
	// Enabled turns the auth route limits on. Default true.
	Enabled bool `toml:"enabled" env:"TINYBASE_RATE_LIMIT_ENABLED"`
	// Backend is accepted for compatibility; only "memory" is implemented.
	Backend string `toml:"backend" env:"TINYBASE_RATE_LIMIT_BACKEND"`
	// CacheDir is accepted for compatibility and unused.
	CacheDir string `toml:"cache_dir" env:"TINYBASE_RATE_LIMIT_CACHE_DIR"`
	// RedisURL is accepted for compatibility and unused.
	RedisURL string `toml:"redis_url" env:"TINYBASE_RATE_LIMIT_REDIS_URL"`
	// MaxConcurrentFunctionsPerUser caps a user's simultaneous calls. Default 10.
	MaxConcurrentFunctionsPerUser int `toml:"max_concurrent_functions_per_user" env:"TINYBASE_RATE_LIMIT_MAX_CONCURRENT_FUNCTIONS_PER_USER"`
	// RegisterPerMinute limits POST /api/auth/register per client address. Default 5; 0 means no limit.
	RegisterPerMinute int `toml:"register_per_minute" env:"TINYBASE_RATE_LIMIT_REGISTER_PER_MINUTE"`
	// LoginPerMinute limits POST /api/auth/login per client address. Default 10; 0 means no limit.
	LoginPerMinute int `toml:"login_per_minute" env:"TINYBASE_RATE_LIMIT_LOGIN_PER_MINUTE"`
	// RefreshPerMinute limits POST /api/auth/refresh per client address. Default 20; 0 means no limit.
	RefreshPerMinute int `toml:"refresh_per_minute" env:"TINYBASE_RATE_LIMIT_REFRESH_PER_MINUTE"`
	// PasswordResetRequestPerMinute limits POST /api/auth/password-reset/request per client address.
	// Default 5; 0 means no limit.
	PasswordResetRequestPerMinute int `toml:"password_reset_request_per_minute" env:"TINYBASE_RATE_LIMIT_PASSWORD_RESET_REQUEST_PER_MINUTE"`
	// PasswordResetConfirmPerMinute limits POST /api/auth/password-reset/confirm per client address.
	// Default 10; 0 means no limit.
	PasswordResetConfirmPerMinute int `toml:"password_reset_confirm_per_minute" env:"TINYBASE_RATE_LIMIT_PASSWORD_RESET_CONFIRM_PER_MINUTE"`
	// PasswordResetEmailsPerHour caps reset emails sent to one address, whoever asks. Default 3; 0 means no limit.
	PasswordResetEmailsPerHour int `toml:"password_reset_emails_per_hour" env:"TINYBASE_RATE_LIMIT_PASSWORD_RESET_EMAILS_PER_HOUR"`
	// TrustedProxies lists reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For
	// header names the client address. Default [] (the connection's peer is the client).
	TrustedProxies []string `toml:"trusted_proxies" env:"TINYBASE_RATE_LIMIT_TRUSTED_PROXIES"`
}

// CORS configures cross-origin access.
type CORS struct {
	// AllowOrigins lists allowed origins. Default ["*"].
	AllowOrigins []string `toml:"allow_origins" env:"TINYBASE_CORS_ALLOW_ORIGINS"`
}

// Admin configures the admin UI.
type Admin struct {
	// StaticDir is "builtin" for the embedded UI, "" to disable it, or a folder.
	StaticDir string `toml:"static_dir" env:"TINYBASE_ADMIN_STATIC_DIR"`
	// Email and Password bootstrap the admin account at init.
	Email    string `toml:"email" env:"TINYBASE_ADMIN_EMAIL" secret:"false"`
	Password string `toml:"password" env:"TINYBASE_ADMIN_PASSWORD" secret:"true"`
}

// Extensions configures extension plugins.
type Extensions struct {
	// Enabled loads installed extensions. Default true.
	Enabled bool `toml:"enabled" env:"TINYBASE_EXTENSIONS_ENABLED"`
	// Dir holds installed extensions. Default "./.tinybase/extensions".
	Dir string `toml:"dir" env:"TINYBASE_EXTENSIONS_DIR"`
	// HookTimeoutMS bounds each hook call of an extension. Default 2000.
	HookTimeoutMS int `toml:"hook_timeout_ms" env:"TINYBASE_EXTENSIONS_HOOK_TIMEOUT_MS"`
}

// Public configures static file serving at the root path.
type Public struct {
	// StaticDir is served at "/" when set. Default "".
	StaticDir string `toml:"static_dir" env:"TINYBASE_PUBLIC_STATIC_DIR"`
}

// Email configures outgoing mail (password reset links). Sending happens in
// the background with retries; see docs/auth.md.
type Email struct {
	// Enabled sends emails; when false, reset requests are answered but no mail goes out. Default false.
	Enabled bool `toml:"enabled" env:"TINYBASE_EMAIL_ENABLED"`
	// SMTPHost is the mail server. Required when enabled.
	SMTPHost string `toml:"smtp_host" env:"TINYBASE_EMAIL_SMTP_HOST"`
	// SMTPPort is the mail server's port. Default 587.
	SMTPPort int `toml:"smtp_port" env:"TINYBASE_EMAIL_SMTP_PORT"`
	// SMTPUser and SMTPPassword log in with AUTH PLAIN when the user is set (never over clear text
	// to another host).
	SMTPUser     string `toml:"smtp_user" env:"TINYBASE_EMAIL_SMTP_USER"`
	SMTPPassword string `toml:"smtp_password" env:"TINYBASE_EMAIL_SMTP_PASSWORD" secret:"true"`
	// TLS is "starttls" (upgrade, refused if the server does not offer it), "implicit" (TLS from
	// the first byte, usually port 465) or "none" (clear text, for a local relay). Default "starttls".
	TLS string `toml:"tls" env:"TINYBASE_EMAIL_TLS"`
	// FromAddress is the sender address. Required when enabled.
	FromAddress string `toml:"from_address" env:"TINYBASE_EMAIL_FROM_ADDRESS"`
	// FromName is the sender's display name. Default "TinyBase".
	FromName string `toml:"from_name" env:"TINYBASE_EMAIL_FROM_NAME"`
	// TemplatesDir holds the project's email templates, which replace the built-in ones file by
	// file. Default "./templates/email".
	TemplatesDir string `toml:"templates_dir" env:"TINYBASE_EMAIL_TEMPLATES_DIR"`
}

// Bus configures the NATS message bus.
type Bus struct {
	// URL of an external NATS server or cluster. Default "": `tinybase
	// serve` embeds one and the roles it starts connect to it.
	URL string `toml:"url" env:"TINYBASE_BUS_URL"`
	// Host is the embedded server's bind address. Default "127.0.0.1".
	Host string `toml:"host" env:"TINYBASE_BUS_HOST"`
	// Port is the embedded server's client port. Default 4222.
	Port int `toml:"port" env:"TINYBASE_BUS_PORT"`
	// User and Password override the generated bus credentials, for a role
	// joining from another host.
	User     string `toml:"user" env:"TINYBASE_BUS_USER"`
	Password string `toml:"password" env:"TINYBASE_BUS_PASSWORD" secret:"true"`
	// StoreDir holds JetStream data. Default "./.tinybase/bus".
	StoreDir string `toml:"store_dir" env:"TINYBASE_BUS_STORE_DIR"`
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		Server: Server{Host: "0.0.0.0", Port: 8000, LogLevel: "info", LogFormat: "text",
			BodyLimitBytes: 11 << 20},
		Database: Database{URL: "sqlite:///./tinybase.db"},
		Auth:     Auth{TokenTTLHours: 24, BcryptCost: 12, PasswordResetTTLMinutes: 60},
		JWT: JWT{Algorithm: "HS256", AccessTokenExpireMinutes: 1440, RefreshTokenExpireDays: 30,
			LeewaySeconds: 5},
		Functions: Functions{Dir: "./functions", LoggingEnabled: true, LoggingLevel: "INFO",
			LoggingFormat: "json", ColdStartPoolSize: 3, ColdStartTTLSeconds: 300,
			TimeoutSeconds: 1800, MaxPayloadBytes: 10 << 20, MaxResultBytes: 10 << 20,
			ScanIntervalSeconds: 2},
		Worker:    Worker{Count: 2, Concurrency: 4, DrainSeconds: 30, FunctionUser: "nobody"},
		Scheduler: Scheduler{Enabled: true, IntervalSeconds: 5, LeaseSeconds: 10, MissedRunGraceSeconds: 3600},
		RateLimit: RateLimit{Enabled: true, Backend: "memory", MaxConcurrentFunctionsPerUser: 10,
			RegisterPerMinute: 5, LoginPerMinute: 10, RefreshPerMinute: 20, PasswordResetRequestPerMinute: 5,
			PasswordResetConfirmPerMinute: 10, PasswordResetEmailsPerHour: 3},
		CORS:       CORS{AllowOrigins: []string{"*"}},
		Admin:      Admin{StaticDir: "builtin"},
		Extensions: Extensions{Enabled: true, Dir: "./.tinybase/extensions", HookTimeoutMS: 2000},
		Email:      Email{SMTPPort: 587, FromName: "TinyBase", TLS: "starttls", TemplatesDir: "./templates/email"},
		Bus:        Bus{Host: "127.0.0.1", Port: 4222, StoreDir: "./.tinybase/bus"},
	}
}

// FunctionTimeout returns the per-call execution limit.
func (c *Config) FunctionTimeout() time.Duration {
	return time.Duration(c.Functions.TimeoutSeconds) * time.Second
}
