package worker

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tinybase/tinybase/pkg/runner"
)

// isolation decides how function processes are separated from the worker.
//
// TODO(isolation): give each process a private /proc (mount namespace) and
// an account of its own; today all functions share one account and rely on
// their SDK marking them non-dumpable to keep each other out.
// As root, the worker runs them as the configured unprivileged account in
// PID namespaces of their own; otherwise it cannot, and says so once.
func isolation(account string, log *slog.Logger) (*runner.Isolation, error) {
	if os.Geteuid() != 0 {
		log.Warn("function processes run as the worker's own user and can read what it can; " +
			"run workers as root (functions then run as worker.function_user) or as a user " +
			"without access to the project folder")
		return nil, nil
	}
	if account == "" {
		return nil, fmt.Errorf("worker.function_user must name an account when the worker runs as root")
	}
	u, err := user.Lookup(account)
	if err != nil {
		return nil, fmt.Errorf("worker.function_user %q: %w", account, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("worker.function_user %q: non-numeric uid or gid", account)
	}
	if uid == 0 {
		return nil, fmt.Errorf("worker.function_user %q is root; choose an unprivileged account", account)
	}
	return &runner.Isolation{UID: uint32(uid), GID: uint32(gid), NewPIDNamespace: true}, nil
}

// prepareCache creates the worker's bundle and SDK folder. It lives
// outside the project (whose .tinybase folder function processes must not
// reach) and is readable by the function account; home is a writable
// folder owned by that account, used as HOME.
func prepareCache(dir string, iso *runner.Isolation) (home string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	home = filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", err
	}
	if iso != nil {
		if err := os.Chown(home, int(iso.UID), int(iso.GID)); err != nil {
			return "", err
		}
	}
	return home, nil
}

// reachablePath keeps the PATH entries an unprivileged account can search:
// every folder from the root down must be searchable by others. A
// worker running as root often has entries under /root that a function
// user could never execute from.
func reachablePath(path string) string {
	var keep []string
	for _, dir := range filepath.SplitList(path) {
		if dir != "" && filepath.IsAbs(dir) && othersCanSearch(dir) {
			keep = append(keep, dir)
		}
	}
	return strings.Join(keep, string(filepath.ListSeparator))
}

func othersCanSearch(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		info, err := os.Stat(d)
		if err != nil || !info.IsDir() || info.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}
