package extension

import (
	"os/exec"
	"syscall"
)

// setProcAttrs asks the kernel to SIGKILL the plugin when the api dies,
// even by SIGKILL, so no extension outlives its api; its own process group
// keeps a terminal's Ctrl-C away so the api stops it in order, and lets
// killGroup end whatever it started.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup SIGKILLs the plugin's process group (its pid, by Setpgid), so
// that children it started die too and the pipes they hold close.
func killGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil || cmd.Process.Pid <= 0 {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
