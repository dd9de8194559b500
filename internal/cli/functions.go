package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/sdk/gofunc"
	"github.com/tinybase/tinybase/pkg/sdk/python"
)

// FunctionsCmd groups the function commands. new and build work on the
// local functions folder; the others talk to a running instance.
type FunctionsCmd struct {
	New      FunctionsNewCmd      `cmd:"" help:"Create a function from a template."`
	Build    FunctionsBuildCmd    `cmd:"" help:"Compile Go function folders into executables."`
	List     FunctionsListCmd     `cmd:"" help:"List the functions of an instance."`
	Call     FunctionsCallCmd     `cmd:"" help:"Call a function of an instance."`
	Deploy   FunctionsDeployCmd   `cmd:"" help:"Upload function files to an instance."`
	Versions FunctionsVersionsCmd `cmd:"" help:"List the deployed versions of a function."`
}

// Languages `functions new` writes.
const (
	langPython = "python"
	langGo     = "go"
)

// reservedNames cannot name a new function: the SDK folder of the
// functions directory, and names the deploy endpoint refuses.
var reservedNames = map[string]bool{python.PackageName: true, "test": true}

// FunctionsNewCmd creates a function from a template.
type FunctionsNewCmd struct {
	Name        string `arg:"" help:"Name: a lower-case letter, then lower-case letters, digits and _."`
	Description string `short:"d" help:"Description shown in function lists."`
	Lang        string `enum:"python,go" default:"python" help:"python (a .py file) or go (a folder to build)."`
}

// Run writes the new function into the functions folder.
func (c *FunctionsNewCmd) Run(g *Globals) error {
	cfg, err := load(g, nil)
	if err != nil {
		return err
	}
	return c.run(cfg.FunctionsDir(), os.Stdout)
}

func (c *FunctionsNewCmd) run(dir string, out io.Writer) error {
	if err := checkNewName(c.Name); err != nil {
		return err
	}
	if existing := existingFunction(dir, c.Name); existing != "" {
		return fmt.Errorf("function %q already exists: %s", c.Name, relPath(existing))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create functions folder: %w", err)
	}
	switch c.Lang {
	case langGo:
		folder := filepath.Join(dir, c.Name)
		if err := gofunc.New(folder, c.Name, c.Description); err != nil {
			return fmt.Errorf("create Go function: %w", err)
		}
		fmt.Fprintf(out, "created %s/ (main.go, go.mod, %s/)\n", relPath(folder), gofunc.SDKDir)
		fmt.Fprintf(out, "build it with `tinybase functions build %s`; that writes %s, which the api publishes\n",
			c.Name, relPath(gofunc.BinaryPath(folder)))
	default:
		src, err := python.NewFunctionTemplate(c.Name, c.Description)
		if err != nil {
			return err
		}
		file := filepath.Join(dir, c.Name+".py")
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("create %s: %w", file, err)
		}
		if _, err := f.Write(src); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", file, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		fmt.Fprintf(out, "created %s\n", relPath(file))
		fmt.Fprintf(out, "a running api publishes it within seconds; try `tinybase functions call %s`\n", c.Name)
	}
	return nil
}

func checkNewName(name string) error {
	switch {
	case !functions.ValidName(name):
		return fmt.Errorf("invalid function name %q: use a lower-case letter, then lower-case letters, digits "+
			"and _ (at most %d characters)", name, functions.MaxNameLen)
	case reservedNames[name]:
		return fmt.Errorf("invalid function name %q: the name is reserved", name)
	}
	return nil
}

// existingFunction returns the path of a file or folder in dir that
// already stands for the function name, or "".
func existingFunction(dir, name string) string {
	for _, p := range []string{name + ".py", name, name + gofunc.BinarySuffix} {
		path := filepath.Join(dir, p)
		if _, err := os.Lstat(path); err == nil {
			return path
		}
	}
	return ""
}

// FunctionsBuildCmd compiles Go function folders.
type FunctionsBuildCmd struct {
	Names  []string `arg:"" optional:"" help:"Functions to build (default: every Go function folder)."`
	GOOS   string   `name:"goos" help:"Operating system of the workers (default: this machine's)."`
	GOARCH string   `name:"goarch" help:"Architecture of the workers (default: this machine's)."`
}

// Run builds the folders.
func (c *FunctionsBuildCmd) Run(g *Globals) error {
	cfg, err := load(g, nil)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	return c.run(ctx, cfg.FunctionsDir(), os.Stdout)
}

func (c *FunctionsBuildCmd) run(ctx context.Context, dir string, out io.Writer) error {
	var folders []string
	if len(c.Names) == 0 {
		found, err := gofunc.FunctionDirs(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("list functions folder: %w", err)
		}
		if len(found) == 0 {
			fmt.Fprintf(out, "no Go functions in %s; create one with `tinybase functions new NAME --lang go`\n",
				relPath(dir))
			return nil
		}
		folders = found
	}
	for _, name := range c.Names {
		folder := filepath.Join(dir, name)
		if !functions.ValidName(name) || !gofunc.IsFunctionDir(folder) {
			return fmt.Errorf("no Go function %q: %s is not a folder with go.mod and main.go", name, relPath(folder))
		}
		folders = append(folders, folder)
	}
	opts := gofunc.BuildOptions{GOOS: c.GOOS, GOARCH: c.GOARCH}
	failed := 0
	for _, folder := range folders {
		bin := gofunc.BinaryPath(folder)
		fmt.Fprintf(out, "building %s … ", relPath(folder))
		start := time.Now()
		if err := gofunc.Build(ctx, folder, bin, opts); err != nil {
			failed++
			fmt.Fprintf(out, "failed\n%v\n", err)
			if errors.Is(err, gofunc.ErrNoToolchain) || ctx.Err() != nil {
				return err
			}
			continue
		}
		size := "?"
		if info, err := os.Stat(bin); err == nil {
			size = formatSize(info.Size())
		}
		fmt.Fprintf(out, "%s (%s, %.1fs)\n", relPath(bin), size, time.Since(start).Seconds())
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d Go functions failed to build", failed, len(folders))
	}
	return nil
}

// formatSize renders a byte count for people.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// relPath shortens path for output when it is inside the working folder.
func relPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
