package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestHasher(t *testing.T) {
	h := NewHasher(bcrypt.MinCost, 2)
	ctx := context.Background()
	hash, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.MinCost {
		t.Errorf("hash cost = %d, %v; want %d", cost, err, bcrypt.MinCost)
	}
	longest := strings.Repeat("x", MaxPasswordLen)
	maxHash, err := h.Hash(ctx, longest)
	if err != nil {
		t.Fatalf("Hash of %d bytes: %v", MaxPasswordLen, err)
	}

	tests := []struct {
		name     string
		hash     string
		password string
		ok       bool
		err      error
	}{
		{"right", hash, "correct horse", true, nil},
		{"wrong", hash, "correct horsE", false, nil},
		{"empty", hash, "", false, nil},
		{"max length", maxHash, longest, true, nil},
		{"too long shares prefix", maxHash, longest + "y", false, ErrPasswordTooLong},
		{"malformed hash", "not-a-hash", "correct horse", false, bcrypt.ErrHashTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, tt.hash, tt.password)
			if ok != tt.ok || !errors.Is(err, tt.err) {
				t.Errorf("Verify = %v, %v; want %v, %v", ok, err, tt.ok, tt.err)
			}
		})
	}

	if _, err := h.Hash(ctx, longest+"y"); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash of %d bytes: error = %v, want ErrPasswordTooLong", MaxPasswordLen+1, err)
	}
	// Multi-byte characters count in bytes: 25 three-byte runes are 75 bytes.
	if _, err := h.Hash(ctx, strings.Repeat("€", 25)); !errors.Is(err, ErrPasswordTooLong) {
		t.Errorf("Hash of 75 UTF-8 bytes: error = %v, want ErrPasswordTooLong", err)
	}
	if err := h.DummyVerify(ctx); err != nil {
		t.Errorf("DummyVerify: %v", err)
	}
}

func TestNewHasherDefaults(t *testing.T) {
	tests := []struct {
		cost, parallel int
		wantCost       int
	}{
		{0, 0, DefaultCost},
		{-1, 1, DefaultCost},
		{1, 1, bcrypt.MinCost},
		{10, 1, 10},
		{99, 1, bcrypt.MaxCost},
	}
	for _, tt := range tests {
		h := NewHasher(tt.cost, tt.parallel)
		if h.Cost() != tt.wantCost {
			t.Errorf("NewHasher(%d).Cost() = %d, want %d", tt.cost, h.Cost(), tt.wantCost)
		}
		if cap(h.sem) < 1 {
			t.Errorf("NewHasher(_, %d) has %d slots", tt.parallel, cap(h.sem))
		}
	}
}

// TestHasherBound fills every slot, then checks that each kind of operation
// waits for a slot rather than running, gives up when its context ends, and
// proceeds once a slot is freed.
func TestHasherBound(t *testing.T) {
	const parallel = 2
	h := NewHasher(bcrypt.MinCost, parallel)
	hash, err := h.Hash(context.Background(), "password1")
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(context.Context) error{
		"hash": func(ctx context.Context) error { _, err := h.Hash(ctx, "password1"); return err },
		"verify": func(ctx context.Context) error {
			ok, err := h.Verify(ctx, hash, "password1")
			if err == nil && !ok {
				return errors.New("verify: mismatch")
			}
			return err
		},
		"dummy": h.DummyVerify,
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			for range parallel {
				h.sem <- struct{}{}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- op(ctx) }()
			select {
			case err := <-done:
				t.Fatalf("%s ran with every slot taken (error %v)", name, err)
			case <-time.After(100 * time.Millisecond):
			}
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s after cancel: error = %v, want context.Canceled", name, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not return after its context was cancelled", name)
			}

			go func() { done <- op(context.Background()) }()
			h.release()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s with a free slot: %v", name, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s did not run after a slot was freed", name)
			}
			for range parallel - 1 {
				h.release()
			}
			if n := len(h.sem); n != 0 {
				t.Fatalf("%d slots still held after %s returned", n, name)
			}
		})
	}
}

// TestHasherConcurrent runs many operations at once and checks that all
// succeed and every slot is returned afterwards.
func TestHasherConcurrent(t *testing.T) {
	h := NewHasher(bcrypt.MinCost, 2)
	errs := make(chan error, 16)
	for i := range cap(errs) {
		go func() {
			pw := strings.Repeat("p", 8+i)
			hash, err := h.Hash(context.Background(), pw)
			if err == nil {
				var ok bool
				ok, err = h.Verify(context.Background(), hash, pw)
				if err == nil && !ok {
					err = errors.New("mismatch")
				}
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(h.sem); n != 0 {
		t.Errorf("%d slots still held", n)
	}
}

func TestHasherCancelledBeforeStart(t *testing.T) {
	h := NewHasher(bcrypt.MinCost, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "password1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled context: error = %v, want context.Canceled", err)
	}
}
