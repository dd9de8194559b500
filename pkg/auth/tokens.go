package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// TokenType says what a token may be used for. Verify checks it, so a
// refresh token is never accepted where an access token is expected, and
// the reverse.
type TokenType string

// Token types.
const (
	// Access authenticates API requests.
	Access TokenType = "access"
	// Refresh is only exchanged at the refresh endpoint for a new pair.
	Refresh TokenType = "refresh"
	// Call is handed to one function invocation so the function can call
	// back into the API on behalf of its caller.
	Call TokenType = "call"
)

// Scopes carried in the scope claim.
const (
	ScopeUser = "user"
	ScopeCall = "call"
)

// Default token lifetimes, matching the reference TinyBase.
const (
	DefaultAccessTTL  = 24 * time.Hour
	DefaultRefreshTTL = 30 * 24 * time.Hour
	DefaultLeeway     = 5 * time.Second
)

// MinSecretLen is the shortest signing secret an Issuer accepts: HS256 with
// a short secret can be brute-forced offline from a single token.
const MinSecretLen = 32

// Claims is the payload of every TinyBase token. Subject is the user id
// (empty for calls made anonymously or by the scheduler), ID a random UUID.
type Claims struct {
	jwt.RegisteredClaims
	// IsAdmin is the user's role when the token was issued. It is shown to
	// clients but never trusted for authorisation: the api checks the
	// current role, so a demotion takes effect at once.
	IsAdmin bool      `json:"is_admin"`
	Type    TokenType `json:"type"`
	Scope   string    `json:"scope"`
	// CallID is the function call a call token was minted for.
	CallID string `json:"call_id,omitempty"`
	// SessionID is the login session (refresh-token family) an access or
	// refresh token belongs to; revoking the session refuses them all.
	SessionID string `json:"sid,omitempty"`
	// IssuedAtMicros is the issue time in microseconds. iat has whole
	// seconds only, which cannot tell a token issued just before a logout
	// from one issued just after it in the same second.
	IssuedAtMicros int64 `json:"iat_us,omitempty"`
}

// IssuerOptions tunes an Issuer. Zero values select the defaults.
type IssuerOptions struct {
	// AccessTTL is the lifetime of access tokens (default 24h).
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens (default 30 days).
	RefreshTTL time.Duration
	// Leeway tolerates clock skew when checking exp and iat (default 5s;
	// negative means none). Only the api issues and verifies tokens, so
	// the leeway only has to cover its own clock being stepped.
	Leeway time.Duration
	// Revocations, when set, is consulted by Verify after every other
	// check; see Revocations.
	Revocations *Revocations
}

// Pair is an access token and the refresh token issued with it.
type Pair struct {
	Access         string
	Refresh        string
	AccessExpires  time.Time
	RefreshExpires time.Time
	// SessionID is the session both tokens belong to.
	SessionID string
	// RefreshID is the refresh token's jti: the session store keeps it to
	// recognise the one refresh token of the session that may still be used.
	RefreshID string
	// IssuedAt is the precise issue time of both tokens.
	IssuedAt time.Time
}

// Issuer signs and verifies tokens with one HS256 secret. It is safe for
// concurrent use.
type Issuer struct {
	secret   []byte
	opts     IssuerOptions
	parser   *jwt.Parser
	now      func() time.Time
	verified *verifiedCache
}

// NewIssuer returns an Issuer signing with a copy of secret. A secret shorter
// than MinSecretLen is kept but every Issue and Verify call then fails with
// ErrWeakSecret; check it up front with ValidateSecret.
func NewIssuer(secret []byte, opts IssuerOptions) *Issuer {
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = DefaultRefreshTTL
	}
	switch {
	case opts.Leeway == 0:
		opts.Leeway = DefaultLeeway
	case opts.Leeway < 0:
		opts.Leeway = 0
	}
	iss := &Issuer{secret: slices.Clone(secret), opts: opts, now: time.Now,
		verified: newVerifiedCache(verifiedCacheSize)}
	iss.parser = iss.newParser()
	return iss
}

// newParser returns the parser Verify uses: HS256 only (never "none"), exp
// required, iat not in the future, both with the issuer's leeway.
func (iss *Issuer) newParser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(iss.opts.Leeway),
		jwt.WithTimeFunc(iss.now),
	)
}

// ValidateSecret reports whether secret is long enough to sign tokens.
func ValidateSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("%w: %d bytes, need at least %d", ErrWeakSecret, len(secret), MinSecretLen)
	}
	return nil
}

// GenerateSecret returns MinSecretLen random bytes for a new instance's
// signing secret.
func GenerateSecret() ([]byte, error) {
	b := make([]byte, MinSecretLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	return b, nil
}

// AccessTTL returns the lifetime of access tokens.
func (iss *Issuer) AccessTTL() time.Duration { return iss.opts.AccessTTL }

// RefreshTTL returns the lifetime of refresh tokens.
func (iss *Issuer) RefreshTTL() time.Duration { return iss.opts.RefreshTTL }

// Leeway returns the clock skew tolerated when checking exp and iat.
func (iss *Issuer) Leeway() time.Duration { return iss.opts.Leeway }

// IssuePair issues an access and a refresh token of one session for a
// user. sessionID names the session (refresh-token family); the caller
// stores it with Pair.RefreshID before handing the tokens out.
func (iss *Issuer) IssuePair(userID string, isAdmin bool, sessionID string) (Pair, error) {
	if userID == "" {
		return Pair{}, errors.New("issue token pair: empty user id")
	}
	if sessionID == "" {
		return Pair{}, errors.New("issue token pair: empty session id")
	}
	now := iss.now()
	p := Pair{AccessExpires: now.Add(iss.opts.AccessTTL), RefreshExpires: now.Add(iss.opts.RefreshTTL),
		SessionID: sessionID, IssuedAt: now}
	var err error
	p.Access, err = iss.sign(Claims{
		RegisteredClaims: iss.registered(userID, now, p.AccessExpires),
		IsAdmin:          isAdmin, Type: Access, Scope: ScopeUser, SessionID: sessionID,
		IssuedAtMicros: now.UnixMicro(),
	})
	if err != nil {
		return Pair{}, err
	}
	refresh := iss.registered(userID, now, p.RefreshExpires)
	p.RefreshID = refresh.ID
	p.Refresh, err = iss.sign(Claims{
		RegisteredClaims: refresh,
		IsAdmin:          isAdmin, Type: Refresh, Scope: ScopeUser, SessionID: sessionID,
		IssuedAtMicros: now.UnixMicro(),
	})
	if err != nil {
		return Pair{}, err
	}
	return p, nil
}

// IssueCallToken issues a token for one function call, valid for ttl. userID
// is the caller, or empty for anonymous and scheduled calls.
func (iss *Issuer) IssueCallToken(userID string, isAdmin bool, callID string, ttl time.Duration) (string, error) {
	if callID == "" {
		return "", errors.New("issue call token: empty call id")
	}
	if ttl <= 0 {
		return "", errors.New("issue call token: ttl must be positive")
	}
	now := iss.now()
	return iss.sign(Claims{
		RegisteredClaims: iss.registered(userID, now, now.Add(ttl)),
		IsAdmin:          isAdmin, Type: Call, Scope: ScopeCall, CallID: callID,
		IssuedAtMicros: now.UnixMicro(),
	})
}

func (iss *Issuer) registered(sub string, now, exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Subject:   sub,
		ID:        uuid.NewString(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
}

func (iss *Issuer) sign(c Claims) (string, error) {
	if err := ValidateSecret(iss.secret); err != nil {
		return "", err
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(iss.secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Verify checks token's signature (HS256 only), expiry (required, with the
// issuer's leeway), type and revocation, and returns its claims. The type
// must be one of want; with no want only access tokens pass, so a
// forgotten argument fails closed. Failures are ErrInvalidToken,
// ErrExpired, ErrWrongTokenType or ErrRevoked.
func (iss *Issuer) Verify(token string, want ...TokenType) (*Claims, error) {
	if err := ValidateSecret(iss.secret); err != nil {
		return nil, err
	}
	if len(want) == 0 {
		want = []TokenType{Access}
	}
	c, err := iss.parse(token)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(want, c.Type) {
		return nil, fmt.Errorf("%w: got %s", ErrWrongTokenType, c.Type)
	}
	if iss.opts.Revocations != nil {
		if err := iss.opts.Revocations.Check(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parse checks everything about token that does not change with time or
// revocation state (signature, algorithm, required claims, a known type)
// and its expiry, and returns a copy of its claims. Tokens that pass are
// remembered by their exact text, so the next request with the same token
// skips the decoding and the HMAC; its expiry is checked again every time.
func (iss *Issuer) parse(token string) (*Claims, error) {
	now := iss.now()
	if c, ok := iss.verified.get(token); ok {
		if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Add(iss.opts.Leeway)) {
			iss.verified.remove(token)
			return nil, ErrExpired
		}
		cp := *c
		return &cp, nil
	}
	var c Claims
	_, err := iss.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return iss.secret, nil })
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	default:
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	switch c.Type {
	case Access:
		if c.Subject == "" {
			return nil, fmt.Errorf("%w: missing subject", ErrInvalidToken)
		}
	case Refresh:
		if c.Subject == "" || c.SessionID == "" {
			return nil, fmt.Errorf("%w: missing subject or session", ErrInvalidToken)
		}
	case Call:
		if c.CallID == "" {
			return nil, fmt.Errorf("%w: missing call id", ErrInvalidToken)
		}
	default:
		return nil, fmt.Errorf("%w: unknown type %q", ErrInvalidToken, c.Type)
	}
	if c.ID == "" {
		return nil, fmt.Errorf("%w: missing id", ErrInvalidToken)
	}
	iss.verified.add(token, c)
	return &c, nil
}
