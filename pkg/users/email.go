package users

import (
	"fmt"
	"strings"
	"unicode"
)

// maxEmailLen is the longest address accepted, the limit of a forward path
// in SMTP.
const maxEmailLen = 254

// NormalizeEmail trims s, lower-cases the whole address and checks its basic
// syntax: one @, a non-empty local part, a domain of non-empty dot-separated
// labels with at least one dot, and no spaces or control characters.
//
// The reference TinyBase keeps the local part's case and matches logins
// exactly, so "Ann@x.io" and "ann@x.io" could be two accounts. TinyBase stores
// and looks up every address in this form, making emails case-insensitive.
// It does no DNS lookup and accepts any domain with a dot.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidEmail)
	}
	if len(e) > maxEmailLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidEmail, maxEmailLen)
	}
	if strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fmt.Errorf("%w: contains spaces or control characters", ErrInvalidEmail)
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || strings.Contains(domain, "@") {
		return "", fmt.Errorf("%w: must contain exactly one @", ErrInvalidEmail)
	}
	if local == "" {
		return "", fmt.Errorf("%w: empty local part", ErrInvalidEmail)
	}
	if !strings.Contains(domain, ".") {
		return "", fmt.Errorf("%w: domain needs a dot", ErrInvalidEmail)
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" {
			return "", fmt.Errorf("%w: empty domain label", ErrInvalidEmail)
		}
	}
	return e, nil
}
