package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/versions"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// publisher keeps the bus in step with the functions folder: each file's
// content goes to the bundle object store (one object per version), a
// worker is asked to describe new versions, and the described metadata in
// the KV bucket feeds the in-memory registry the handlers read.
type publisher struct {
	dir      string
	obs      jetstream.ObjectStore
	kv       jetstream.KeyValue
	js       jetstream.JetStream
	registry *functions.Registry
	versions *versions.Store
	log      *slog.Logger

	// ready is closed once the registry holds every function known on the
	// bus, so a restarted api does not answer 404 for existing functions.
	ready     chan struct{}
	readyOnce sync.Once

	// rescan asks run for an immediate scan (after an upload).
	rescan chan struct{}

	brokenMu sync.Mutex
	broken   map[string]functions.Meta // file -> failed description

	known map[string]string // file -> digest already handled
	names map[string]string // file -> function name in the registry
}

func newPublisher(ctx context.Context, conn *bus.Conn, dir string, reg *functions.Registry, vs *versions.Store,
	log *slog.Logger) (*publisher, error) {
	obs, err := conn.JS.ObjectStore(ctx, bus.BundlesBucket)
	if err != nil {
		return nil, fmt.Errorf("open bundle store: %w", err)
	}
	kv, err := conn.JS.KeyValue(ctx, bus.MetaBucket)
	if err != nil {
		return nil, fmt.Errorf("open function metadata: %w", err)
	}
	return &publisher{dir: dir, obs: obs, kv: kv, js: conn.JS, registry: reg, versions: vs, log: log,
		known: map[string]string{}, names: map[string]string{},
		ready: make(chan struct{}), rescan: make(chan struct{}, 1),
		broken: map[string]functions.Meta{}}, nil
}

// run watches the metadata bucket and rescans the folder every interval.
//
// TODO(watch): use inotify instead of polling so changes publish at once.
func (p *publisher) run(ctx context.Context, interval time.Duration) {
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		p.watch(ctx)
	}()
	first := true
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := p.scan(ctx, first); err != nil && ctx.Err() == nil {
			p.log.Warn("scan functions folder failed", "dir", p.dir, "error", err)
		} else {
			first = false
		}
		select {
		case <-ctx.Done():
			<-watchDone
			return
		case <-t.C:
		case <-p.rescan:
		}
	}
}

// candidate reports whether a folder entry is a function file: a .py file
// or an executable, not hidden and not starting with "_".
//
// TODO(bundles): ship helper modules (files next to a function, packages)
// with it; today each file travels alone.
func candidate(e os.DirEntry) bool {
	name := e.Name()
	if e.IsDir() || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
		return false
	}
	if !e.Type().IsRegular() {
		return false
	}
	if strings.HasSuffix(name, ".py") {
		return true
	}
	info, err := e.Info()
	return err == nil && info.Mode().Perm()&0o111 != 0
}

func (p *publisher) scan(ctx context.Context, first bool) error {
	entries, err := os.ReadDir(p.dir)
	if errors.Is(err, os.ErrNotExist) {
		entries = nil
	} else if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, e := range entries {
		if !candidate(e) {
			continue
		}
		file := e.Name()
		if !functions.ValidFileName(file) {
			if p.known[file] != "skipped" {
				p.log.Warn("function file name not supported; use letters, digits, _ - and .", "file", file)
				p.known[file] = "skipped"
			}
			continue
		}
		present[file] = true
		data, err := os.ReadFile(filepath.Join(p.dir, file))
		if err != nil {
			p.log.Warn("read function file failed", "file", file, "error", err)
			continue
		}
		sum := sha256.Sum256(data)
		digest := hex.EncodeToString(sum[:])
		if p.known[file] == digest {
			continue
		}
		if err := p.publish(ctx, file, digest, data); err != nil {
			return fmt.Errorf("publish %s: %w", file, err)
		}
		p.known[file] = digest
	}
	// Forget files that disappeared, including those removed while the
	// api was down (their metadata is still in the bucket).
	var gone []string
	if first {
		keys, err := p.kv.ListKeys(ctx)
		if err == nil {
			for k := range keys.Keys() {
				if f := functions.FileOfMetaKey(k); f != "" && !present[f] {
					gone = append(gone, f)
				}
			}
		}
	}
	for f := range p.known {
		if !present[f] {
			gone = append(gone, f)
		}
	}
	for _, f := range gone {
		delete(p.known, f)
		if err := p.kv.Delete(ctx, functions.MetaKey(f)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			p.log.Warn("remove function metadata failed", "file", f, "error", err)
			continue
		}
		p.log.Info("function file removed", "file", f)
	}
	return nil
}

func (p *publisher) publish(ctx context.Context, file, digest string, data []byte) error {
	name := digest + "/" + file
	if _, err := p.obs.GetInfo(ctx, name); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := p.obs.PutBytes(ctx, name, data); err != nil {
			return fmt.Errorf("store bundle: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("check bundle: %w", err)
	}
	if _, created, err := p.versions.Record(ctx, versions.NewVersion{FunctionName: strings.TrimSuffix(file, ".py"),
		FileName: file, ContentHash: digest, FileSize: int64(len(data))}); err != nil {
		return fmt.Errorf("record version: %w", err)
	} else if created {
		p.log.Info("function version recorded", "file", file, "digest", digest[:12])
	}
	if e, err := p.kv.Get(ctx, functions.MetaKey(file)); err == nil {
		var m functions.Meta
		if json.Unmarshal(e.Value(), &m) == nil && m.Digest == digest {
			return nil // already described
		}
	}
	req, _ := proto.Marshal(&busv1.DescribeRequest{Bundle: name, Digest: digest, File: file})
	// The id only guards against a retried publish within this scan: the
	// same content may need describing again later (a rollback to it).
	msgID := fmt.Sprintf("describe-%s-%d", name, time.Now().UnixNano())
	if _, err := p.js.Publish(ctx, bus.DescribeSubject, req, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("request describe: %w", err)
	}
	p.log.Info("function bundle published", "file", file, "digest", digest[:12])
	return nil
}

// watch mirrors the metadata bucket into the registry.
func (p *publisher) watch(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := p.kv.WatchAll(ctx)
		if err != nil {
			p.log.Warn("watch function metadata failed", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil {
				p.readyOnce.Do(func() { close(p.ready) })
				continue
			}
			p.apply(e)
		}
		_ = w.Stop()
	}
}

func (p *publisher) apply(e jetstream.KeyValueEntry) {
	file := functions.FileOfMetaKey(e.Key())
	if file == "" {
		return
	}
	old := p.names[file]
	p.brokenMu.Lock()
	delete(p.broken, file)
	p.brokenMu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		if old != "" {
			p.registry.Delete(old)
			delete(p.names, file)
		}
		return
	}
	var m functions.Meta
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		p.log.Warn("bad function metadata", "file", file, "error", err)
		return
	}
	if m.Error != "" {
		p.brokenMu.Lock()
		p.broken[file] = m
		p.brokenMu.Unlock()
		p.log.Warn("function could not be loaded", "file", file, "error", m.Error)
		if old != "" {
			p.registry.Delete(old)
			delete(p.names, file)
		}
		return
	}
	if old != "" && old != m.Name {
		p.registry.Delete(old)
	}
	vctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if v, err := p.versions.ByHash(vctx, m.File, m.Digest); err == nil {
		m.VersionID = v.ID
	}
	cancel()
	if prev, ok := p.registry.Get(m.Name); ok && prev.File != m.File {
		p.log.Warn("two files register the same function; the newer wins", "function", m.Name,
			"file", m.File, "other", prev.File)
	}
	p.registry.Put(m)
	p.names[file] = m.Name
	p.log.Info("function loaded", "function", m.Name, "file", file, "auth", m.Auth)
}

// Broken returns the files that failed to load, with their errors.
func (p *publisher) Broken() []functions.Meta {
	p.brokenMu.Lock()
	defer p.brokenMu.Unlock()
	out := make([]functions.Meta, 0, len(p.broken))
	for _, m := range p.broken {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// kick makes run scan the folder now.
func (p *publisher) kick() {
	select {
	case p.rescan <- struct{}{}:
	default:
	}
}
