package runner

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the process in its own process group, so a timeout can
// kill everything the function started, and asks the kernel to SIGKILL it
// when the worker dies, so no function outlives its worker. With iso set
// it also drops to iso's user and starts a new PID namespace.
//
// Pdeathsig fires when the OS thread that started the child exits, not the
// whole worker process; the Go runtime keeps its threads alive unless a
// goroutine exits while locked to one, which this package never does.
func setProcAttrs(cmd *exec.Cmd, iso *Isolation) {
	attr := &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if iso != nil {
		attr.Credential = &syscall.Credential{Uid: iso.UID, Gid: iso.GID, Groups: []uint32{}}
		if iso.NewPIDNamespace {
			attr.Cloneflags = syscall.CLONE_NEWPID
		}
	}
	cmd.SysProcAttr = attr
}
