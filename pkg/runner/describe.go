package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DescribeTimeout bounds `<cmd> --metadata`. It is generous because the
// first run of a uv script may install its dependencies.
const DescribeTimeout = 60 * time.Second

// maxMetadataBytes bounds the metadata document a function may print.
const maxMetadataBytes = 1 << 20

// Auth levels a function may declare.
const (
	AuthPublic = "public"
	AuthUser   = "auth"
	AuthAdmin  = "admin"
)

// Describe runs `<cmd> --metadata` for fn and returns the validated
// metadata. It takes at most DescribeTimeout, less if ctx ends sooner.
func (r *Runner) Describe(ctx context.Context, fn Function) (Metadata, error) {
	name, args, err := command(fn.Path, r.env)
	if err != nil {
		return Metadata{}, fmt.Errorf("describe %s: %w", fn.Path, err)
	}
	runCtx, cancel := context.WithTimeout(ctx, DescribeTimeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, name, append(args, "--metadata")...)
	cmd.Dir = filepath.Dir(fn.Path)
	cmd.Env = r.env
	setProcAttrs(cmd, r.opts.Isolation)
	cmd.Cancel = func() error {
		signalGroup(cmd.Process.Pid, syscall.SIGKILL)
		return nil
	}
	// A grandchild holding stdout open must not keep Describe waiting.
	cmd.WaitDelay = r.opts.KillGrace
	stdout := &cappedBuffer{max: maxMetadataBytes}
	stderr := &tailBuffer{max: r.opts.MaxStderrBytes}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	runErr := cmd.Run()
	if cmd.Process != nil {
		// Whatever the function left running in its group goes too.
		signalGroup(cmd.Process.Pid, syscall.SIGKILL)
	}
	errText := strings.TrimSpace(stderr.String())
	if errText != "" {
		r.log.Debug("function stderr", "function", fn.Name, "path", fn.Path, "phase", "describe", "text", errText)
	}
	switch {
	case ctx.Err() != nil:
		return Metadata{}, fmt.Errorf("describe %s: %w", fn.Path, context.Cause(ctx))
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return Metadata{}, fmt.Errorf("describe %s: %w: timed out after %s", fn.Path, ErrDescribeFailed,
			DescribeTimeout)
	case runErr != nil:
		if errText != "" {
			return Metadata{}, fmt.Errorf("describe %s: %w: %w: %s", fn.Path, ErrDescribeFailed, runErr, errText)
		}
		return Metadata{}, fmt.Errorf("describe %s: %w: %w", fn.Path, ErrDescribeFailed, runErr)
	case stdout.overflow:
		return Metadata{}, fmt.Errorf("describe %s: %w: output exceeds %d bytes",
			fn.Path, ErrInvalidMetadata, maxMetadataBytes)
	}
	md, err := parseMetadata(stdout.Bytes())
	if err != nil {
		return Metadata{}, fmt.Errorf("describe %s: %w", fn.Path, err)
	}
	return md, nil
}

// parseMetadata decodes and validates a metadata document. When the whole
// output is not one JSON object, the last line is tried, so a print at
// import time does not hide the document.
func parseMetadata(out []byte) (Metadata, error) {
	var raw struct {
		Name         string          `json:"name"`
		Description  *string         `json:"description"`
		Auth         *string         `json:"auth"`
		Tags         []string        `json:"tags"`
		InputSchema  json.RawMessage `json:"input_schema"`
		OutputSchema json.RawMessage `json:"output_schema"`
	}
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return Metadata{}, fmt.Errorf("%w: no output", ErrInvalidMetadata)
	}
	err := json.Unmarshal(out, &raw)
	if err != nil {
		if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
			err = json.Unmarshal(out[i+1:], &raw)
		}
	}
	if err != nil {
		return Metadata{}, fmt.Errorf("%w: %w", ErrInvalidMetadata, err)
	}
	md := Metadata{
		Name:         strings.TrimSpace(raw.Name),
		Auth:         AuthUser,
		Tags:         raw.Tags,
		InputSchema:  nullToNil(raw.InputSchema),
		OutputSchema: nullToNil(raw.OutputSchema),
	}
	if md.Name == "" {
		return Metadata{}, fmt.Errorf("%w: name is empty", ErrInvalidMetadata)
	}
	if raw.Description != nil {
		md.Description = *raw.Description
	}
	if raw.Auth != nil && *raw.Auth != "" {
		md.Auth = *raw.Auth
	}
	switch md.Auth {
	case AuthPublic, AuthUser, AuthAdmin:
	default:
		return Metadata{}, fmt.Errorf("%w: invalid auth level %q (want public, auth or admin)",
			ErrInvalidMetadata, md.Auth)
	}
	if md.Tags == nil {
		md.Tags = []string{}
	}
	return md, nil
}

func nullToNil(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// cappedBuffer keeps the first max bytes written and notes overflow. It
// never fails a write, so the child does not die of a broken pipe.
type cappedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.overflow = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
