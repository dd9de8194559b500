//go:build linux

package harden

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestNoDump(t *testing.T) {
	if err := NoDump(); err != nil {
		t.Fatal(err)
	}
	v, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v != 0 {
		t.Fatalf("dumpable = %d after NoDump", v)
	}
}
