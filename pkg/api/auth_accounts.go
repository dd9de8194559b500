package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tinybase/tinybase/pkg/apptokens"
	"github.com/tinybase/tinybase/pkg/auth"
	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
	"github.com/tinybase/tinybase/pkg/email"
	"github.com/tinybase/tinybase/pkg/ratelimit"
	"github.com/tinybase/tinybase/pkg/settings"
	"github.com/tinybase/tinybase/pkg/store"
	"github.com/tinybase/tinybase/pkg/users"
)

// maintenanceInterval is how often the api prunes expired sessions and
// revocations and writes application tokens' last use.
const maintenanceInterval = 10 * time.Second

// accounts holds what the auth, user, settings and application token
// routes need beyond the Server's users and issuer: the in-memory views
// kept in step with the database, the limiters and the mail outbox.
type accounts struct {
	cfg      *config.Config
	log      *slog.Logger
	hasher   *auth.Hasher
	issuer   *auth.Issuer
	users    *users.Service
	rev      *auth.Revocations
	settings *settings.Service
	tokens   *apptokens.Service

	outbox    *email.Outbox // nil when [email] is disabled
	templates email.Templates

	limits  authLimits
	proxies ratelimit.Proxies
}

// authLimits are the per-client-address limiters of the auth routes; nil
// ones do not limit.
type authLimits struct {
	register, login, refresh, resetRequest, resetConfirm *ratelimit.Limiter
	// resetEmails limits reset emails per recipient address.
	resetEmails *ratelimit.Limiter
}

// newAccounts builds the account services over db and loads their
// in-memory views. The returned accounts must be stopped with stop.
func newAccounts(ctx context.Context, cfg *config.Config, db *store.DB, log *slog.Logger) (*accounts, error) {
	a := &accounts{cfg: cfg, log: log, rev: auth.NewRevocations()}
	a.hasher = auth.NewHasher(cfg.Auth.BcryptCost, cfg.Auth.HashConcurrency)
	a.issuer = auth.NewIssuer(cfg.Secrets.JWTSecret, auth.IssuerOptions{
		AccessTTL:   time.Duration(cfg.JWT.AccessTokenExpireMinutes) * time.Minute,
		RefreshTTL:  time.Duration(cfg.JWT.RefreshTokenExpireDays) * 24 * time.Hour,
		Leeway:      time.Duration(cfg.JWT.LeewaySeconds) * time.Second,
		Revocations: a.rev,
	})
	// A revocation must outlive every token it refuses: the longest of
	// access, refresh and call tokens (function timeout, at most a day,
	// plus the result wait margin), plus the leeway.
	lifetime := max(a.issuer.AccessTTL(), a.issuer.RefreshTTL(),
		time.Duration(settings.MaxTimeoutSecs)*time.Second+resultWaitMargin) + a.issuer.Leeway() + time.Minute
	a.users = users.NewService(db, a.hasher, users.WithRevocations(a.rev, lifetime))
	if err := a.users.Load(ctx); err != nil {
		return nil, err
	}
	a.settings = settings.NewService(db, settings.Defaults{
		FunctionTimeoutSeconds:        cfg.Functions.TimeoutSeconds,
		MaxConcurrentFunctionsPerUser: cfg.RateLimit.MaxConcurrentFunctionsPerUser,
	})
	warnings, err := a.settings.Load(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		log.Warn("stored setting ignored", "detail", w)
	}
	a.tokens = apptokens.NewService(db)
	if err := a.tokens.Load(ctx); err != nil {
		return nil, err
	}
	if a.proxies, err = ratelimit.ParseProxies(cfg.RateLimit.TrustedProxies); err != nil {
		return nil, err
	}
	if rl := cfg.RateLimit; rl.Enabled {
		perMinute := func(n int) *ratelimit.Limiter {
			if n <= 0 {
				return nil
			}
			return ratelimit.New(n, time.Minute, 0)
		}
		a.limits = authLimits{register: perMinute(rl.RegisterPerMinute), login: perMinute(rl.LoginPerMinute),
			refresh: perMinute(rl.RefreshPerMinute), resetRequest: perMinute(rl.PasswordResetRequestPerMinute),
			resetConfirm: perMinute(rl.PasswordResetConfirmPerMinute)}
		if rl.PasswordResetEmailsPerHour > 0 {
			a.limits.resetEmails = ratelimit.New(rl.PasswordResetEmailsPerHour, time.Hour, 0)
		}
	}
	if cfg.Email.TemplatesDir != "" {
		a.templates = email.Templates{Dir: cfg.Path(cfg.Email.TemplatesDir)}
	}
	if cfg.Email.Enabled {
		sender, err := email.NewSender(email.Options{Host: cfg.Email.SMTPHost, Port: cfg.Email.SMTPPort,
			User: cfg.Email.SMTPUser, Password: cfg.Email.SMTPPassword, TLS: cfg.Email.TLS,
			From: cfg.Email.FromAddress, FromName: cfg.Email.FromName})
		if err != nil {
			return nil, err
		}
		a.outbox = email.NewOutbox(sender, 0, nil, log.With("component", "email"))
	}
	return a, nil
}

// attachBus publishes every settings change on the bus, after its commit,
// for the roles that cannot read the database.
func (a *accounts) attachBus(nc *nats.Conn) {
	a.settings.OnChange(func(ch settings.Change) {
		data, err := json.Marshal(settingsEvent{Keys: ch.Keys, UpdatedAt: ch.Snapshot.UpdatedAt,
			Settings: ch.Snapshot.Public()})
		if err == nil {
			err = nc.Publish(bus.SettingsChangedSubject, data)
		}
		if err != nil {
			a.log.Warn("publish settings change failed", "keys", strings.Join(ch.Keys, ","), "error", err)
		}
	})
}

// settingsEvent is the JSON body of bus.SettingsChangedSubject.
type settingsEvent struct {
	// Keys are the keys that changed; secret keys are named, never valued.
	Keys      []string `json:"keys"`
	UpdatedAt string   `json:"updated_at"`
	// Settings is every non-secret setting after the change.
	Settings map[string]any `json:"settings"`
}

// start runs the maintenance loop until ctx ends; wg waits for it.
func (a *accounts) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(maintenanceInterval)
		defer t.Stop()
		lastPrune := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := a.tokens.Flush(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("record application token use failed", "error", err)
			}
			if time.Since(lastPrune) >= time.Hour {
				lastPrune = time.Now()
				if n, err := a.users.Prune(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("prune sessions failed", "error", err)
				} else if n > 0 {
					a.log.Info("pruned expired sessions and revocations", "rows", n)
				}
			}
		}
	}()
}

// stop writes what is pending: application tokens' last use and queued
// emails (given a few seconds to go out).
func (a *accounts) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.tokens.Flush(ctx); err != nil {
		a.log.Warn("record application token use failed", "error", err)
	}
	if a.outbox != nil {
		a.outbox.Stop(ctx)
	}
}

// publicBaseURL is where people reach this instance: server.public_url,
// else the local address. Links in emails are built from it, never from
// the request's Host header, which the requester controls.
func (a *accounts) publicBaseURL() string {
	if a.cfg.Server.PublicURL != "" {
		return strings.TrimRight(a.cfg.Server.PublicURL, "/")
	}
	return fmt.Sprintf("http://127.0.0.1:%d", a.cfg.Server.Port)
}

// FunctionTimeout is the runtime setting core.scheduler.function_timeout_seconds
// (which defaults to functions.timeout_seconds).
func (a *accounts) FunctionTimeout() time.Duration { return a.settings.Current().FunctionTimeout() }

// maxConcurrentPerUser is the runtime setting
// core.limits.max_concurrent_functions_per_user.
func (a *accounts) maxConcurrentPerUser() int {
	return a.settings.Current().MaxConcurrentFunctionsPerUser()
}
