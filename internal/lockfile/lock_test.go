package lockfile

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestLockIsExclusiveAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	if os.Getenv("TB_LOCK_CHILD") != "" {
		_, err := Lock(os.Getenv("TB_LOCK_CHILD"), "serve")
		if errors.Is(err, ErrLocked) && strings.Contains(err.Error(), strconv.Itoa(os.Getppid())) {
			os.Exit(3)
		}
		os.Exit(0)
	}
	release, err := Lock(dir, "serve")
	if err != nil {
		t.Fatal(err)
	}
	run := func() int {
		cmd := exec.Command(os.Args[0], "-test.run", "TestLockIsExclusiveAcrossProcesses")
		cmd.Env = append(os.Environ(), "TB_LOCK_CHILD="+dir)
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if code := run(); code != 3 {
		t.Fatalf("second process got the lock (exit %d)", code)
	}
	release()
	if code := run(); code != 0 {
		t.Fatalf("lock not free after release (exit %d)", code)
	}
}
