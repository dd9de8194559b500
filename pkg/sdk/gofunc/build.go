package gofunc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoToolchain means the go command is not installed where a Go
// function is built.
var ErrNoToolchain = errors.New("go toolchain not found: Go functions are compiled where you run " +
	"`tinybase functions build`; install Go " + GoVersion + " or newer")

// BuildOptions select the target of a build. Zero values build for the
// machine running the build.
type BuildOptions struct {
	// GOOS and GOARCH pick the platform of the workers, e.g. linux and
	// amd64 when building on a Mac for Linux servers.
	GOOS, GOARCH string
	// Go is the go command; default: "go" from PATH.
	Go string
}

// Build compiles the function folder dir into the executable out (mode
// 0755). The binary is static (CGO_ENABLED=0), so it runs on any worker of
// the target platform, and stripped of debug symbols to keep bundles
// small; panics still print full stack traces. out is replaced atomically,
// so the api, which polls the functions folder, never publishes a
// half-written file. A compile error is returned with the compiler's
// output.
func Build(ctx context.Context, dir, out string, opts BuildOptions) error {
	if !IsFunctionDir(dir) {
		return fmt.Errorf("%w: %s has no go.mod and main.go", ErrNotFunction, dir)
	}
	goCmd := opts.Go
	if goCmd == "" {
		path, err := exec.LookPath("go")
		if err != nil {
			return ErrNoToolchain
		}
		goCmd = path
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // no-op after the rename

	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", tmpName, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if opts.GOOS != "" {
		cmd.Env = append(cmd.Env, "GOOS="+opts.GOOS)
	}
	if opts.GOARCH != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+opts.GOARCH)
	}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(output.String()); msg != "" {
			return fmt.Errorf("go build %s: %w\n%s", dir, err, msg)
		}
		return fmt.Errorf("go build %s: %w", dir, err)
	}
	if err := os.Chmod(tmpName, 0o755); err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	if err := os.Rename(tmpName, out); err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	return nil
}
