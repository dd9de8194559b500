// Package lockfile keeps two processes from owning one project folder.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked means another process holds the lock.
var ErrLocked = errors.New("in use by another process")

// Lock takes the exclusive lock stateDir/<name>.lock for as long as the
// process runs (the kernel drops it when the process dies, however it
// dies). Two supervisors, two apis or two embedded buses on one project
// folder would corrupt its database or bus store; the second one fails
// here with the holder's pid instead.
func Lock(stateDir, name string) (release func(), err error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, name+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		data, _ := os.ReadFile(path)
		f.Close()
		holder := strings.TrimSpace(string(data))
		if holder == "" {
			holder = "unknown"
		}
		return nil, fmt.Errorf("%s in %s is %w (pid %s)", name, filepath.Dir(stateDir), ErrLocked, holder)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
