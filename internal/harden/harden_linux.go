// Package harden applies process-level protections every role uses.
package harden

import "golang.org/x/sys/unix"

// NoDump marks the process non-dumpable: other processes of the same user
// (a function's, say) can then neither read its /proc files such as
// environ and mem nor attach a debugger, so secrets held in memory or in
// the environment stay private. Core dumps are disabled as a consequence.
func NoDump() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
