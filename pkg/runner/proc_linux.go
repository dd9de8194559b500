package runner

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the process in its own process group, so a timeout can
// kill everything the function started, and asks the kernel to SIGKILL it
// when the worker dies, so no function outlives its worker.
//
// Pdeathsig fires when the OS thread that started the child exits, not the
// whole worker process; the Go runtime keeps its threads alive unless a
// goroutine exits while locked to one, which this package never does.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
}
