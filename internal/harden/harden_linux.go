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

// PrivateFiles makes files the process creates from now on readable only
// by its own user (umask 077): the database's -wal and -shm files and
// the bus store must not be readable by function processes.
func PrivateFiles() { unix.Umask(0o077) }

// SharedFiles restores the usual umask (022) for a process, such as a
// worker, whose files must be readable by the function user.
func SharedFiles() { unix.Umask(0o022) }
