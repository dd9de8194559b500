package extension

import (
	"os/exec"
	"syscall"
)

// setProcAttrs asks the kernel to SIGKILL the plugin when the api dies,
// even by SIGKILL, so no extension outlives its api; its own process group
// keeps a terminal's Ctrl-C away so the api stops it in order.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
