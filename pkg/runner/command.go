package runner

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// maxScriptScan bounds how much of a .py file is searched for an inline
// script metadata block.
const maxScriptScan = 10 << 20

// command returns the program and arguments that run the function file at
// path: `python3 <file>` for .py files, `uv run --script <file>` when the
// file declares inline script metadata and uv is installed, and the file
// itself for any other executable. Interpreters are looked up on the
// function environment's PATH when it has one (an isolated function user
// may not reach every folder on the worker's PATH), else on the worker's.
func command(path string, env []string) (string, []string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrNotRunnable, err)
	}
	if !info.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%w: not a regular file", ErrNotRunnable)
	}
	if strings.HasSuffix(path, ".py") {
		if hasScriptBlock(path) {
			if uv, err := lookPath("uv", env); err == nil {
				return uv, []string{"run", "--script", path}, nil
			}
		}
		python, err := lookPath("python3", env)
		if err != nil {
			return "", nil, fmt.Errorf("%w: python3 not found: %w", ErrNotRunnable, err)
		}
		return python, []string{path}, nil
	}
	if info.Mode().Perm()&0o111 == 0 {
		return "", nil, fmt.Errorf("%w: neither a .py file nor executable", ErrNotRunnable)
	}
	return path, nil, nil
}

// lookPath finds an executable on the PATH of env, or on the worker's own
// PATH when env sets none.
func lookPath(file string, env []string) (string, error) {
	pathVar, ok := "", false
	for _, kv := range env {
		if v, found := strings.CutPrefix(kv, "PATH="); found {
			pathVar, ok = v, true
		}
	}
	if !ok {
		return exec.LookPath(file)
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, file)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on the function PATH %q", file, pathVar)
}

// hasScriptBlock reports whether a Python file contains a complete inline
// script metadata block (PEP 723): a `# /// script` line, comment lines, and
// a closing `# ///` line.
func hasScriptBlock(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxScriptScan))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	inBlock := false
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case !inBlock && line == "# /// script":
			inBlock = true
		case inBlock && line == "# ///":
			return true
		case inBlock && line != "#" && !strings.HasPrefix(line, "# "):
			inBlock = false
		}
	}
	return false
}

// buildEnv returns the complete environment of function processes: the
// configured variables plus PYTHONPATH (the SDK directory first) and
// PYTHONUNBUFFERED=1. The worker's own environment is never inherited, so
// secrets of the host stay out of function code.
func buildEnv(base []string, sdkDir string) []string {
	env := make([]string, 0, len(base)+2)
	var pythonPath string
	for _, kv := range base {
		switch {
		case strings.HasPrefix(kv, "PYTHONPATH="):
			pythonPath = strings.TrimPrefix(kv, "PYTHONPATH=")
		case strings.HasPrefix(kv, "PYTHONUNBUFFERED="):
		default:
			env = append(env, kv)
		}
	}
	switch {
	case sdkDir != "" && pythonPath != "":
		env = append(env, "PYTHONPATH="+sdkDir+string(filepath.ListSeparator)+pythonPath)
	case sdkDir != "":
		env = append(env, "PYTHONPATH="+sdkDir)
	case pythonPath != "":
		env = append(env, "PYTHONPATH="+pythonPath)
	}
	return append(env, "PYTHONUNBUFFERED=1")
}
