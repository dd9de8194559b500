//go:build unix && !linux

package runner

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the process in its own process group, so a timeout can
// kill everything the function started.
//
// TODO(runner): without Linux's Pdeathsig, functions may outlive a worker
// that is killed with SIGKILL.
func setProcAttrs(cmd *exec.Cmd, iso *Isolation) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if iso != nil {
		attr.Credential = &syscall.Credential{Uid: iso.UID, Gid: iso.GID, Groups: []uint32{}}
	}
	cmd.SysProcAttr = attr
}
