package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/versions"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// uploadDescribeTimeout bounds how long an upload waits for a worker to
// describe the new code.
const uploadDescribeTimeout = 60 * time.Second

type uploadRequest struct {
	Filename string  `json:"filename"`
	Content  string  `json:"content"`
	Notes    *string `json:"notes"`
	// Encoding is "" for text (a Python file) or "base64" for a built
	// executable, such as a compiled Go function.
	Encoding string `json:"encoding"`
}

type uploadResponse struct {
	FunctionName string   `json:"function_name"`
	VersionID    string   `json:"version_id"`
	ContentHash  string   `json:"content_hash"`
	IsNewVersion bool     `json:"is_new_version"`
	Message      string   `json:"message"`
	Warnings     []string `json:"warnings"`
}

func (s *Server) deployRoutes(ad fiber.Router) {
	ad.Post("/functions/upload", s.uploadFunction)
	ad.Post("/functions/upload-batch", s.uploadBatch)
	ad.Get("/functions/:name/versions", s.listVersions)
	ad.Post("/functions/:name/versions/:id/rollback", s.rollbackVersion)
}

func (s *Server) uploadFunction(c *fiber.Ctx) error {
	var req uploadRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	who := callerOf(c)
	res, err := s.deploy(c.UserContext(), req, who.UserID)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

func (s *Server) uploadBatch(c *fiber.Ctx) error {
	var req struct {
		Functions []uploadRequest `json:"functions"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	who := callerOf(c)
	out := make([]uploadResponse, 0, len(req.Functions))
	for _, f := range req.Functions {
		res, err := s.deploy(c.UserContext(), f, who.UserID)
		if err != nil {
			detail := err.Error()
			var ae *Error
			if errors.As(err, &ae) {
				detail = ae.Message
			}
			res = &uploadResponse{FunctionName: strings.TrimSuffix(f.Filename, ".py"),
				Message: "Upload failed: " + detail, Warnings: []string{}}
		}
		out = append(out, *res)
	}
	return c.JSON(out)
}

// deploy checks new function code on a worker and, when it loads, writes
// it into the functions folder and records the version. Nothing is
// written when the code does not load, so a broken upload never replaces
// a working function.
func (s *Server) deploy(ctx context.Context, req uploadRequest, userID string) (*uploadResponse, error) {
	field := func(name, msg string) error {
		e := badRequest(msg)
		e.Fields = []FieldError{{Field: name, Code: "invalid", Message: msg}}
		return e
	}
	data := []byte(req.Content)
	mode := os.FileMode(0o644)
	switch req.Encoding {
	case "":
		if !strings.HasSuffix(req.Filename, ".py") {
			return nil, field("filename", "a text upload must be a Python file such as my_function.py; "+
				"send executables with \"encoding\": \"base64\"")
		}
	case "base64":
		decoded, err := base64.StdEncoding.DecodeString(req.Content)
		if err != nil {
			return nil, field("content", "content is not valid base64")
		}
		data = decoded
		if !strings.HasSuffix(req.Filename, ".py") {
			mode = 0o755
		}
	default:
		return nil, field("encoding", `encoding must be "" or "base64"`)
	}
	if !functions.ValidFileName(req.Filename) || strings.HasPrefix(req.Filename, "_") ||
		strings.HasPrefix(req.Filename, ".") || strings.ContainsAny(req.Filename, "/\\") {
		return nil, field("filename", "filename must use letters, digits, _ - and . and not start with _ or .")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, field("content", "content must not be empty")
	}
	if max := s.cfg.Functions.MaxPayloadBytes; len(data) > max {
		return nil, newError(http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("content exceeds maximum size of %d bytes", max))
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	dir := s.cfg.FunctionsDir()
	path := filepath.Join(dir, req.Filename)
	if cur, err := os.ReadFile(path); err == nil {
		if cs := sha256.Sum256(cur); hex.EncodeToString(cs[:]) == digest {
			v, _ := s.versions.ByHash(ctx, req.Filename, digest)
			return &uploadResponse{FunctionName: strings.TrimSuffix(req.Filename, ".py"), VersionID: v.ID,
				ContentHash: digest, Message: "Function is already at this version", Warnings: []string{}}, nil
		}
	}
	meta, err := s.publisher.describeUpload(ctx, req.Filename, digest, data)
	if err != nil {
		return nil, err
	}
	if meta.Error != "" {
		return nil, field("content", "function does not load: "+meta.Error)
	}
	// Two files registering one function leave only the newer one live,
	// so a version or a rollback written to the other file would not take
	// effect: refuse instead of deploying something that is not served.
	if cur, ok := s.registry.Get(meta.Name); ok && cur.File != "" && cur.File != req.Filename {
		if _, err := os.Stat(filepath.Join(dir, cur.File)); err == nil {
			return nil, field("filename", fmt.Sprintf("function '%s' is deployed from %s; upload the new "+
				"version as %s (or delete %s first)", meta.Name, cur.File, cur.File, cur.File))
		}
	}
	var warnings []string
	if stem := strings.TrimSuffix(strings.TrimSuffix(req.Filename, ".py"), ".bin"); meta.Name != stem {
		warnings = append(warnings, fmt.Sprintf("the file registers function %q, not %q", meta.Name, stem))
	}
	if meta.Auth == functions.AuthPublic {
		warnings = append(warnings, "the function is public: anyone can call it without signing in")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("functions folder: %w", err)
	}
	var uploader *string
	if userID != "" {
		uploader = &userID
	}
	v, created, err := s.versions.Record(ctx, versions.NewVersion{FunctionName: meta.Name, FileName: req.Filename,
		ContentHash: digest, FileSize: int64(len(data)), DeployedBy: uploader, Notes: req.Notes})
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, data, mode); err != nil {
		return nil, fmt.Errorf("write function file: %w", err)
	}
	s.publisher.kick()
	if warnings == nil {
		warnings = []string{}
	}
	return &uploadResponse{FunctionName: meta.Name, VersionID: v.ID, ContentHash: digest, IsNewVersion: created,
		Message: fmt.Sprintf("Function '%s' deployed", meta.Name), Warnings: warnings}, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// fileOf finds the file behind a function name: the registry's, or
// <name>.py for a function that is no longer loaded.
func (s *Server) fileOf(name string) string {
	if m, ok := s.registry.Get(name); ok {
		return m.File
	}
	return name + ".py"
}

func (s *Server) listVersions(c *fiber.Ctx) error {
	name := c.Params("name")
	limit, err := intQuery(c, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	list, err := s.versions.List(c.UserContext(), name, s.fileOf(name), limit)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return notFound(fmt.Sprintf("No versions found for '%s'", name))
	}
	return c.JSON(list)
}

// rollbackVersion deploys an earlier version's content again, as a new
// version, from the bundle store.
func (s *Server) rollbackVersion(c *fiber.Ctx) error {
	name, id := c.Params("name"), c.Params("id")
	v, err := s.versions.Get(c.UserContext(), id)
	if errors.Is(err, versions.ErrNotFound) || (err == nil && v.FileName != s.fileOf(name) && v.FunctionName != name) {
		return notFound(fmt.Sprintf("Version '%s' of '%s' not found", id, name))
	}
	if err != nil {
		return err
	}
	data, err := s.publisher.obs.GetBytes(c.UserContext(), v.ContentHash+"/"+v.FileName)
	if err != nil {
		return fmt.Errorf("fetch version content: %w", err)
	}
	notes := "rollback to version " + v.ID
	res, err := s.deploy(c.UserContext(), uploadRequest{Filename: v.FileName,
		Content: base64.StdEncoding.EncodeToString(data), Encoding: "base64", Notes: &notes}, callerOf(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// describeUpload stores the bundle and has a worker describe it under a
// key of its own, then returns the description.
func (p *publisher) describeUpload(ctx context.Context, file, digest string, data []byte) (functions.Meta, error) {
	name := digest + "/" + file
	if _, err := p.obs.GetInfo(ctx, name); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := p.obs.PutBytes(ctx, name, data); err != nil {
			return functions.Meta{}, fmt.Errorf("store bundle: %w", err)
		}
	} else if err != nil {
		return functions.Meta{}, fmt.Errorf("check bundle: %w", err)
	}
	key := "upload." + digest
	_ = p.kv.Purge(ctx, key)
	w, err := p.kv.Watch(ctx, key, jetstream.UpdatesOnly())
	if err != nil {
		return functions.Meta{}, fmt.Errorf("watch describe result: %w", err)
	}
	defer w.Stop()
	req, _ := proto.Marshal(&busv1.DescribeRequest{Bundle: name, Digest: digest, File: file, ResultKey: key})
	if _, err := p.js.Publish(ctx, bus.DescribeSubject, req,
		jetstream.WithMsgID(fmt.Sprintf("describe-upload-%s-%d", digest, time.Now().UnixNano()))); err != nil {
		return functions.Meta{}, fmt.Errorf("request describe: %w", err)
	}
	timer := time.NewTimer(uploadDescribeTimeout)
	defer timer.Stop()
	for {
		select {
		case e := <-w.Updates():
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var m functions.Meta
			if err := json.Unmarshal(e.Value(), &m); err != nil {
				return functions.Meta{}, err
			}
			_ = p.kv.Purge(context.Background(), key)
			return m, nil
		case <-timer.C:
			e := newError(http.StatusServiceUnavailable, "no_workers",
				"No worker described the function in time; is a worker running?")
			return functions.Meta{}, e
		case <-ctx.Done():
			return functions.Meta{}, ctx.Err()
		}
	}
}
