package config

import (
	"net/mail"
	"net/netip"
	"strings"
)

// MaxLeewaySeconds bounds jwt.leeway_seconds: the leeway only covers the
// api's own clock being stepped (it alone issues and verifies tokens), and
// a large one would keep expired tokens alive.
const MaxLeewaySeconds = 60

// validateAccounts checks the settings of auth, rate limits and email.
func (c *Config) validateAccounts(bad func(key, format string, a ...any) error) error {
	if c.JWT.LeewaySeconds > MaxLeewaySeconds {
		return bad("jwt.leeway_seconds", "must be at most %d, got %d", MaxLeewaySeconds, c.JWT.LeewaySeconds)
	}
	if c.Auth.PasswordResetTTLMinutes < 1 || c.Auth.PasswordResetTTLMinutes > 24*60 {
		return bad("auth.password_reset_ttl_minutes", "must be between 1 and 1440, got %d",
			c.Auth.PasswordResetTTLMinutes)
	}
	rl := c.RateLimit
	for key, n := range map[string]int{
		"rate_limit.register_per_minute":               rl.RegisterPerMinute,
		"rate_limit.login_per_minute":                  rl.LoginPerMinute,
		"rate_limit.refresh_per_minute":                rl.RefreshPerMinute,
		"rate_limit.password_reset_request_per_minute": rl.PasswordResetRequestPerMinute,
		"rate_limit.password_reset_confirm_per_minute": rl.PasswordResetConfirmPerMinute,
		"rate_limit.password_reset_emails_per_hour":    rl.PasswordResetEmailsPerHour,
	} {
		if n < 0 {
			return bad(key, "must not be negative, got %d", n)
		}
	}
	for _, p := range rl.TrustedProxies {
		p = strings.TrimSpace(p)
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			return bad("rate_limit.trusted_proxies", "%q is not an address or CIDR range", p)
		}
	}
	e := c.Email
	switch e.TLS {
	case "starttls", "implicit", "none":
	default:
		return bad("email.tls", "must be starttls, implicit or none, got %q", e.TLS)
	}
	if !e.Enabled {
		return nil
	}
	if strings.TrimSpace(e.SMTPHost) == "" {
		return bad("email.smtp_host", "is required when email is enabled")
	}
	if e.SMTPPort < 1 || e.SMTPPort > 65535 {
		return bad("email.smtp_port", "must be a port between 1 and 65535, got %d", e.SMTPPort)
	}
	if a, err := mail.ParseAddress(e.FromAddress); err != nil || a.Name != "" {
		return bad("email.from_address", "must be an email address, got %q", e.FromAddress)
	}
	return nil
}
