package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
)

func newTestIssuer(t *testing.T, secret []byte) *Issuer {
	t.Helper()
	return NewIssuer(secret, IssuerOptions{AccessTTL: time.Hour, RefreshTTL: 48 * time.Hour, Leeway: 5 * time.Second})
}

// at returns a copy of iss whose clock reads t.
func at(iss *Issuer, t time.Time) *Issuer {
	cp := *iss
	cp.now = func() time.Time { return t }
	cp.parser = cp.newParser()
	return &cp
}

func TestRoundTrip(t *testing.T) {
	iss := newTestIssuer(t, testSecret)
	before := time.Now()
	p, err := iss.IssuePair("user-1", true, "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.AccessExpires.Sub(before), time.Hour; got < want-time.Second || got > want+time.Second {
		t.Errorf("access expires in %v, want about %v", got, want)
	}
	if got, want := p.RefreshExpires.Sub(before), 48*time.Hour; got < want-time.Second || got > want+time.Second {
		t.Errorf("refresh expires in %v, want about %v", got, want)
	}
	call, err := iss.IssueCallToken("", false, "call-9", time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		token   string
		want    TokenType
		sub     string
		admin   bool
		scope   string
		callID  string
		expires time.Time
	}{
		{"access", p.Access, Access, "user-1", true, ScopeUser, "", p.AccessExpires},
		{"refresh", p.Refresh, Refresh, "user-1", true, ScopeUser, "", p.RefreshExpires},
		{"call", call, Call, "", false, ScopeCall, "call-9", time.Now().Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iss.Verify(tt.token, tt.want)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != tt.sub || c.IsAdmin != tt.admin || c.Type != tt.want || c.Scope != tt.scope ||
				c.CallID != tt.callID {
				t.Errorf("claims = %+v", c)
			}
			if c.ID == "" || c.IssuedAt == nil {
				t.Errorf("missing jti or iat: %+v", c)
			}
			if d := c.ExpiresAt.Sub(tt.expires); d < -time.Second || d > time.Second {
				t.Errorf("exp = %v, want about %v", c.ExpiresAt.Time, tt.expires)
			}
		})
	}
	if a, r := mustClaims(t, iss, p.Access, Access), mustClaims(t, iss, p.Refresh, Refresh); a.ID == r.ID {
		t.Errorf("access and refresh share jti %s", a.ID)
	}
}

func mustClaims(t *testing.T, iss *Issuer, tok string, typ TokenType) *Claims {
	t.Helper()
	c, err := iss.Verify(tok, typ)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// forge signs arbitrary claims with an arbitrary method and key.
func forge(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRefuses(t *testing.T) {
	iss := newTestIssuer(t, testSecret)
	p, err := iss.IssuePair("user-1", false, "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	call, err := iss.IssueCallToken("user-1", false, "call-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newTestIssuer(t, otherSecret).IssuePair("user-1", true, "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	valid := func(typ TokenType) Claims {
		return Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Subject: "user-1", ID: "jti-1",
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
			},
			Type: typ, Scope: ScopeUser,
		}
	}
	noneToken := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid(Access))
	hs512 := forge(t, jwt.SigningMethodHS512, testSecret, valid(Access))
	noExp := valid(Access)
	noExp.ExpiresAt = nil
	noSub := valid(Access)
	noSub.Subject = ""
	noJTI := valid(Access)
	noJTI.ID = ""
	badType := valid("admin")
	futureIat := valid(Access)
	futureIat.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour))
	noCallID := valid(Call)

	tests := []struct {
		name  string
		token string
		want  []TokenType
		err   error
	}{
		{"refresh as access", p.Refresh, []TokenType{Access}, ErrWrongTokenType},
		{"refresh with default want", p.Refresh, nil, ErrWrongTokenType},
		{"access as refresh", p.Access, []TokenType{Refresh}, ErrWrongTokenType},
		{"call as access", call, []TokenType{Access}, ErrWrongTokenType},
		{"access as call", p.Access, []TokenType{Call}, ErrWrongTokenType},
		{"tampered signature", tamperSignature(p.Access), nil, ErrInvalidToken},
		{"tampered payload", tamperPayload(t, p.Access), nil, ErrInvalidToken},
		{"alg none", noneToken, nil, ErrInvalidToken},
		{"alg none unsigned header only", strings.TrimSuffix(noneToken, "."), nil, ErrInvalidToken},
		{"other hmac alg", hs512, nil, ErrInvalidToken},
		{"wrong secret", other.Access, nil, ErrInvalidToken},
		{"no exp", forge(t, jwt.SigningMethodHS256, testSecret, noExp), nil, ErrInvalidToken},
		{"no sub", forge(t, jwt.SigningMethodHS256, testSecret, noSub), nil, ErrInvalidToken},
		{"no jti", forge(t, jwt.SigningMethodHS256, testSecret, noJTI), nil, ErrInvalidToken},
		{"unknown type", forge(t, jwt.SigningMethodHS256, testSecret, badType), nil, ErrInvalidToken},
		{"iat in future", forge(t, jwt.SigningMethodHS256, testSecret, futureIat), nil, ErrInvalidToken},
		{"call without call id", forge(t, jwt.SigningMethodHS256, testSecret, noCallID), []TokenType{Call},
			ErrInvalidToken},
		{"empty", "", nil, ErrInvalidToken},
		{"garbage", "a.b.c", nil, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iss.Verify(tt.token, tt.want...)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Verify error = %v, want %v", err, tt.err)
			}
			if c != nil {
				t.Errorf("claims returned with error: %+v", c)
			}
		})
	}
}

func tamperSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	sig[0] ^= 0xff
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// tamperPayload flips is_admin to true while keeping the old signature.
func tamperPayload(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(body), `"is_admin":false`, `"is_admin":true`, 1)
	if s == string(body) {
		t.Fatal("payload has no is_admin:false")
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(s))
	return strings.Join(parts, ".")
}

func TestExpiry(t *testing.T) {
	base := newTestIssuer(t, testSecret)
	issued := time.Now().Add(-time.Hour)
	p, err := at(base, issued).IssuePair("user-1", false, "sess-1")
	if err != nil {
		t.Fatal(err)
	}
	// The access token expires at issued+1h.
	exp := issued.Add(time.Hour)
	tests := []struct {
		name string
		now  time.Time
		err  error
	}{
		{"before expiry", exp.Add(-time.Minute), nil},
		{"within leeway", exp.Add(3 * time.Second), nil},
		{"beyond leeway", exp.Add(7 * time.Second), ErrExpired},
		{"long expired", exp.Add(24 * time.Hour), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := at(base, tt.now).Verify(p.Access, Access)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Verify error = %v, want %v", err, tt.err)
			}
		})
	}
	// An expired token with a bad signature is invalid, not expired.
	if _, err := at(base, exp.Add(time.Hour)).Verify(tamperSignature(p.Access)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired forged token: error = %v, want ErrInvalidToken", err)
	}
}

func TestWeakSecret(t *testing.T) {
	for _, secret := range [][]byte{nil, []byte("short")} {
		iss := NewIssuer(secret, IssuerOptions{})
		if _, err := iss.IssuePair("u", false, "s"); !errors.Is(err, ErrWeakSecret) {
			t.Errorf("IssuePair with %d-byte secret: error = %v, want ErrWeakSecret", len(secret), err)
		}
		tok := forge(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"type": "access"})
		if _, err := iss.Verify(tok); !errors.Is(err, ErrWeakSecret) {
			t.Errorf("Verify with %d-byte secret: error = %v, want ErrWeakSecret", len(secret), err)
		}
	}
}

func TestGenerateSecret(t *testing.T) {
	a, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != MinSecretLen || ValidateSecret(a) != nil {
		t.Errorf("secret length %d", len(a))
	}
	if string(a) == string(b) {
		t.Error("two generated secrets are equal")
	}
}

func TestIssuerMutatedSecret(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	iss := NewIssuer(secret, IssuerOptions{})
	p, err := iss.IssuePair("u", false, "s")
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if _, err := iss.Verify(p.Access); err != nil {
		t.Errorf("issuer affected by caller changing its secret slice: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	// Seeds are signed with another secret, so no mutation of them can turn
	// into a token valid under the fuzzed issuer's secret.
	seeder := NewIssuer(otherSecret, IssuerOptions{})
	p, err := seeder.IssuePair("user-1", true, "sess-1")
	if err != nil {
		f.Fatal(err)
	}
	call, err := seeder.IssueCallToken("", false, "call-1", time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		p.Access, p.Refresh, call, "", ".", "..", "a.b.c",
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1IiwidHlwZSI6ImFjY2VzcyJ9.",
		"eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
	} {
		f.Add(s)
	}
	iss := NewIssuer(testSecret, IssuerOptions{})
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := iss.Verify(tok, Access, Refresh, Call)
		if err == nil {
			t.Fatalf("random token verified: %q -> %+v", tok, c)
		}
		if c != nil {
			t.Fatalf("claims returned with error %v", err)
		}
	})
}
