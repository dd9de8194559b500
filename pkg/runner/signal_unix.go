//go:build unix

package runner

import "syscall"

// signalGroup sends sig to every process in the process group led by pid.
// Errors are ignored: the usual one is ESRCH, the group is already gone.
func signalGroup(pid int, sig syscall.Signal) {
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(-pid, sig)
}
