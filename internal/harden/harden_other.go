//go:build !linux

package harden

// NoDump is a no-op where the platform has no equivalent.
//
// TODO(harden): use the platform's mechanism (e.g. PT_DENY_ATTACH) where one exists.
func NoDump() error { return nil }
