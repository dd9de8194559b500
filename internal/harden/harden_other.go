//go:build !linux

package harden

import "syscall"

// NoDump is a no-op where the platform has no equivalent.
//
// TODO(harden): use the platform's mechanism (e.g. PT_DENY_ATTACH) where one exists.
func NoDump() error { return nil }

// PrivateFiles makes new files private to the process's user.
func PrivateFiles() { syscall.Umask(0o077) }

// SharedFiles restores the usual umask.
func SharedFiles() { syscall.Umask(0o022) }
