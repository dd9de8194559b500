// Package auth hashes passwords and issues and verifies the JWTs that
// TinyBase hands to clients and to function processes.
//
// It knows nothing about users, HTTP or the bus: the users package stores
// hashes, and the api decides which token type each route accepts.
package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// DefaultCost is the bcrypt cost used when NewHasher is given zero. It is the
// library default and what the reference TinyBase uses, so migrated hashes
// keep their timing.
const DefaultCost = 12

// MaxPasswordLen is the longest password in bytes that bcrypt reads in full.
const MaxPasswordLen = 72

// Hasher hashes and verifies passwords with bcrypt.
//
// A bcrypt operation at cost 12 holds a CPU core for a few hundred
// milliseconds, so a flood of login attempts could otherwise occupy every
// core and starve the rest of the process. A Hasher therefore runs at most a
// fixed number of operations at once; the others wait for a slot until their
// context ends. A Hasher is safe for concurrent use.
type Hasher struct {
	cost int
	sem  chan struct{}

	dummyOnce sync.Once
	dummy     []byte
	dummyErr  error
}

// NewHasher returns a Hasher using the given bcrypt cost (DefaultCost when
// zero or negative, clamped to bcrypt's allowed range otherwise) that runs at
// most parallel operations at once (DefaultParallel() when zero or negative).
func NewHasher(cost int, parallel int) *Hasher {
	switch {
	case cost <= 0:
		cost = DefaultCost
	case cost < bcrypt.MinCost:
		cost = bcrypt.MinCost
	case cost > bcrypt.MaxCost:
		cost = bcrypt.MaxCost
	}
	if parallel <= 0 {
		parallel = DefaultParallel()
	}
	return &Hasher{cost: cost, sem: make(chan struct{}, parallel)}
}

// DefaultParallel is the number of hashes run at once by default: half the
// CPUs, at least one, so a flood of logins leaves the other half to serve
// everything else.
func DefaultParallel() int { return max(1, runtime.NumCPU()/2) }

// Cost returns the bcrypt cost of new hashes.
func (h *Hasher) Cost() int { return h.cost }

// acquire waits for a free slot or the end of ctx.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wait for password hasher: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for password hasher: %w", ctx.Err())
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the bcrypt hash of password. Passwords longer than
// MaxPasswordLen bytes are refused with ErrPasswordTooLong: bcrypt would
// silently ignore everything after byte 72, so two different long passwords
// sharing a prefix would both be accepted.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", ErrPasswordTooLong
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	b, err := bcrypt.GenerateFromPassword([]byte(password), h.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(b), nil
}

// Verify reports whether password matches hash. A mismatch is (false, nil);
// an error means the hash is malformed, the password is longer than
// MaxPasswordLen bytes (ErrPasswordTooLong, since no hash made by Hash can
// match it), or ctx ended while waiting for a slot.
func (h *Hasher) Verify(ctx context.Context, hash, password string) (bool, error) {
	if len(password) > MaxPasswordLen {
		return false, ErrPasswordTooLong
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("verify password: %w", err)
	}
}

// DummyVerify spends the same time as Verify against a real hash of the
// Hasher's cost, so that a login for an unknown email takes as long as one
// with a wrong password and does not reveal which emails are registered.
// The dummy hash is made on first use.
func (h *Hasher) DummyVerify(ctx context.Context) error {
	h.dummyOnce.Do(func() {
		h.dummy, h.dummyErr = bcrypt.GenerateFromPassword([]byte("tinybase-dummy-password"), h.cost)
	})
	if h.dummyErr != nil {
		return fmt.Errorf("make dummy hash: %w", h.dummyErr)
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	_ = bcrypt.CompareHashAndPassword(h.dummy, []byte("not-the-dummy-password"))
	return nil
}
