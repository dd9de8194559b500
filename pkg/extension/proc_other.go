//go:build !linux

package extension

import "os/exec"

// setProcAttrs does nothing here.
//
// TODO(extensions): without Linux's Pdeathsig, a plugin may outlive an api
// that is killed with SIGKILL.
func setProcAttrs(*exec.Cmd) {}
