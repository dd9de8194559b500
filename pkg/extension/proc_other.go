//go:build !linux

package extension

import "os/exec"

// setProcAttrs does nothing here.
//
// TODO(extensions): without Linux's Pdeathsig, a plugin may outlive an api
// that is killed with SIGKILL.
func setProcAttrs(*exec.Cmd) {}

// killGroup kills the plugin process only.
//
// TODO(extensions): children a plugin starts may outlive it here.
func killGroup(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
