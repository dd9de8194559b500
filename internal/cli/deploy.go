package cli

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tinybase/tinybase/pkg/sdk"
	"github.com/tinybase/tinybase/pkg/sdk/gofunc"
)

// FunctionsDeployCmd uploads function files to an instance.
type FunctionsDeployCmd struct {
	RemoteFlags
	Files []string `arg:"" optional:"" help:"Function files or Go function folders (default: the functions folder's)."`
	Notes string   `short:"n" help:"Notes stored with each new version."`
}

// uploadRequest is the body of POST /api/admin/functions/upload. Content
// that is not UTF-8 text, such as a built Go function, is sent base64
// encoded with Encoding "base64".
type uploadRequest struct {
	Filename string `json:"filename"`
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"`
	Notes    string `json:"notes,omitempty"`
}

type uploadResult struct {
	FunctionName string   `json:"function_name"`
	VersionID    string   `json:"version_id"`
	ContentHash  string   `json:"content_hash"`
	IsNewVersion bool     `json:"is_new_version"`
	Message      string   `json:"message"`
	Warnings     []string `json:"warnings"`
}

// deployed is the outcome of one file for the summary.
type deployed struct {
	file   string
	result uploadResult
	err    error
}

// Run uploads the files, printing progress and a summary; it fails when
// any file failed.
func (c *FunctionsDeployCmd) Run(g *Globals) error {
	cfg, cfgErr := load(g, nil)
	var dir string
	if cfgErr == nil {
		dir = cfg.FunctionsDir()
	} else if len(c.Files) == 0 {
		return cfgErr
	}
	files, err := deployFiles(dir, c.Files, os.Stderr)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	r, err := c.connect(ctx, g, defaultTimeout)
	if err != nil {
		return err
	}
	return c.run(ctx, r, files, os.Stdout)
}

func (c *FunctionsDeployCmd) run(ctx context.Context, r *remote, files []string, out io.Writer) error {
	if len(files) == 0 {
		fmt.Fprintln(out, "nothing to deploy")
		return nil
	}
	var results []deployed
	failed := 0
	for i, file := range files {
		fmt.Fprintf(out, "[%d/%d] %s ", i+1, len(files), relPath(file))
		d := deployed{file: file}
		d.result, d.err = c.upload(ctx, r, file, out)
		if d.err != nil {
			failed++
			fmt.Fprintf(out, "failed: %v\n", d.err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		} else {
			fmt.Fprintln(out, outcome(d.result))
			for _, w := range d.result.Warnings {
				fmt.Fprintf(out, "    warning: %s\n", w)
			}
		}
		results = append(results, d)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tFUNCTION\tVERSION\tRESULT")
	for _, d := range results {
		res := outcome(d.result)
		if d.err != nil {
			res = "failed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", filepath.Base(d.file), orDash(d.result.FunctionName),
			orDash(short(d.result.VersionID, 8)), res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed to deploy", failed, len(files))
	}
	return nil
}

func (c *FunctionsDeployCmd) upload(ctx context.Context, r *remote, file string, out io.Writer) (uploadResult, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return uploadResult{}, err
	}
	fmt.Fprintf(out, "(%s) … ", formatSize(int64(len(data))))
	req := uploadRequest{Filename: filepath.Base(file), Notes: c.Notes}
	if utf8.Valid(data) {
		req.Content = string(data)
	} else {
		req.Content, req.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
	}
	var res uploadResult
	if err := r.client.Post(ctx, "admin/functions/upload", req, &res); err != nil {
		var ae *sdk.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return res, fmt.Errorf("upload: %w (the instance has no deploy endpoint)", err)
		}
		return res, r.explain("upload", err)
	}
	return res, nil
}

func outcome(r uploadResult) string {
	if r.IsNewVersion {
		return "new version " + short(r.ContentHash, 8)
	}
	return "unchanged " + short(r.ContentHash, 8)
}

// deployFiles resolves the deploy arguments to files: a Go function folder
// stands for its built binary. Without arguments it lists the function
// files of dir the way the api publishes them. Warnings about Go functions
// that are not built, or built from older sources, go to warn.
func deployFiles(dir string, args []string, warn io.Writer) ([]string, error) {
	if len(args) == 0 {
		return functionFiles(dir, warn)
	}
	var files []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		switch {
		case err != nil:
			return nil, fmt.Errorf("deploy %s: %w", arg, err)
		case info.IsDir() && gofunc.IsFunctionDir(arg):
			bin := gofunc.BinaryPath(arg)
			if _, err := os.Stat(bin); err != nil {
				return nil, fmt.Errorf("deploy %s: the Go function is not built; run `tinybase functions build %s`",
					arg, filepath.Base(filepath.Clean(arg)))
			}
			warnStale(arg, bin, warn)
			files = append(files, bin)
		case info.IsDir():
			return nil, fmt.Errorf("deploy %s: a folder, but not a Go function folder (go.mod and main.go)", arg)
		default:
			files = append(files, arg)
		}
	}
	return files, nil
}

// functionFiles lists what the api would publish from dir: .py files and
// executables, not hidden and not starting with "_".
func functionFiles(dir string, warn io.Writer) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list functions folder: %w", err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		if e.IsDir() {
			if gofunc.IsFunctionDir(path) {
				bin := gofunc.BinaryPath(path)
				if _, err := os.Stat(bin); err != nil {
					fmt.Fprintf(warn, "warning: skipping %s: not built; run `tinybase functions build %s`\n",
						relPath(path), name)
				} else {
					warnStale(path, bin, warn)
				}
			}
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		if strings.HasSuffix(name, ".py") || info.Mode().Perm()&0o111 != 0 {
			files = append(files, path)
		}
	}
	sort.Strings(files)
	return files, nil
}

// warnStale warns when a Go source in folder is newer than its binary.
func warnStale(folder, bin string, warn io.Writer) {
	info, err := os.Stat(bin)
	if err != nil {
		return
	}
	newest := newestSource(folder)
	if newest.After(info.ModTime()) {
		fmt.Fprintf(warn, "warning: %s is older than the sources in %s; run `tinybase functions build %s` first\n",
			relPath(bin), relPath(folder), filepath.Base(filepath.Clean(folder)))
	}
}

func newestSource(folder string) time.Time {
	var newest time.Time
	_ = filepath.WalkDir(folder, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if !d.IsDir() && (strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum") {
			if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
				newest = info.ModTime()
			}
		}
		return nil
	})
	return newest
}
