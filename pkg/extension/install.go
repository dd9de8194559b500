package extension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// buildTimeout bounds `go build` of a source install.
const buildTimeout = 5 * time.Minute

// InstallInput says what to install.
type InstallInput struct {
	// Path is a built extension binary or a Go source folder (a main
	// package), on the api's host.
	Path string
	// Policy is PolicyClosed (default) or PolicyOpen.
	Policy string
	// Disabled installs without starting it.
	Disabled bool
}

// Install builds (for a source folder) or copies the binary into the
// extensions folder, starts it once to learn what it is, checks its
// manifest, records it with its sha256 and, unless disabled, starts it.
// Errors: ErrInvalid (wrapped, with the reason), ErrExists.
func (m *Manager) Install(ctx context.Context, in InstallInput) (Info, error) {
	if in.Policy == "" {
		in.Policy = PolicyClosed
	}
	if in.Policy != PolicyOpen && in.Policy != PolicyClosed {
		return Info{}, fmt.Errorf("%w: policy must be %q or %q", ErrInvalid, PolicyOpen, PolicyClosed)
	}
	src, err := filepath.Abs(in.Path)
	if err != nil || in.Path == "" {
		return Info{}, fmt.Errorf("%w: path is required", ErrInvalid)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s: no such file or folder on the server", ErrInvalid, in.Path)
	}
	root, err := filepath.Abs(m.opts.Dir)
	if err != nil {
		return Info{}, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Info{}, fmt.Errorf("create extensions folder: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".install-")
	if err != nil {
		return Info{}, fmt.Errorf("create install folder: %w", err)
	}
	defer os.RemoveAll(tmp) // gone after the rename below, unless install failed
	bin := filepath.Join(tmp, "extension")
	if fi.IsDir() {
		err = goBuild(ctx, src, bin)
	} else {
		err = copyFile(src, bin)
	}
	if err != nil {
		return Info{}, err
	}
	sum, err := fileSHA256(bin)
	if err != nil {
		return Info{}, err
	}
	desc, err := describe(bin, sum, m.log)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	mf, err := manifestOf(desc)
	if err != nil {
		return Info{}, err
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.rows.get(ctx, desc.Name); err == nil {
		return Info{}, &ExistsError{Name: desc.Name}
	} else if !errors.Is(err, ErrNotFound) {
		return Info{}, err
	}
	dir := filepath.Join(root, desc.Name)
	if err := os.RemoveAll(dir); err != nil { // a leftover of an earlier, failed uninstall
		return Info{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Info{}, fmt.Errorf("move extension into place: %w", err)
	}
	final := filepath.Join(dir, desc.Name)
	if err := os.Rename(filepath.Join(dir, "extension"), final); err != nil {
		return Info{}, fmt.Errorf("move extension into place: %w", err)
	}
	r := Row{Name: desc.Name, Version: desc.Version, Description: desc.Description, Author: desc.Author,
		Path: final, Source: src, SHA256: sum, Manifest: mf, IsEnabled: !in.Disabled, Policy: in.Policy}
	if err := m.rows.insert(ctx, &r); err != nil {
		os.RemoveAll(dir)
		return Info{}, err
	}
	st := Status{State: StateStopped}
	if r.IsEnabled && !m.opts.Disabled {
		m.launch(r)
		// Wait for the first start so that the caller sees the real state
		// and the hooks are live when Install returns.
		m.waitFirstStart(m.procs[r.Name])
		st = m.procs[r.Name].proc.Status()
	}
	if err := m.reload(ctx); err != nil {
		return Info{}, err
	}
	m.log.Info("extension installed", "extension", r.Name, "version", r.Version, "sha256", sum, "source", src)
	r2, err := m.rows.get(ctx, r.Name)
	if err != nil {
		return Info{}, err
	}
	return Info{Row: r2, Status: st}, nil
}

// describe starts the binary once, without a host service, to read its
// manifest.
func describe(bin, sum string, log *slog.Logger) (*extv1.DescribeResponse, error) {
	p := newProc("", bin, sum, log.With("installing", bin), nil)
	defer p.kill()
	if err := p.start(); err != nil {
		return nil, err
	}
	return p.desc, nil
}

func goBuild(ctx context.Context, src, out string) error {
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil && !insideModule(src) {
		return fmt.Errorf("%w: %s is a folder without a Go module (go.mod)", ErrInvalid, src)
	}
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = buildEnv()
	outb, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(outb)
		if len(msg) > 4000 {
			msg = msg[:4000] + "…"
		}
		return fmt.Errorf("%w: go build failed: %v\n%s", ErrInvalid, err, msg)
	}
	return nil
}

// insideModule reports whether a go.mod exists in src or a parent.
func insideModule(src string) bool {
	for d := src; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return false
		}
		d = parent
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
