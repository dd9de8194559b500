package worker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/functions"
	"github.com/tinybase/tinybase/pkg/runner"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

// describeLoop reads function metadata for new bundles. Running the bundle
// to describe it is executing user code, which is why workers, not the
// api, do it.
func (w *Worker) describeLoop(fetchCtx, runCtx context.Context, cons jetstream.Consumer, kv jetstream.KeyValue) {
	for fetchCtx.Err() == nil {
		batch, done, err := fetchOne(fetchCtx, cons)
		if err != nil {
			if fetchCtx.Err() != nil {
				return
			}
			sleepCtx(fetchCtx, time.Second)
			continue
		}
		for msg := range batch.Messages() {
			w.handleDescribe(runCtx, msg, kv)
		}
		done()
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && fetchCtx.Err() == nil {
			w.log.Debug("describe fetch ended", "error", err)
		}
	}
}

func (w *Worker) handleDescribe(ctx context.Context, msg jetstream.Msg, kv jetstream.KeyValue) {
	var req busv1.DescribeRequest
	if err := proto.Unmarshal(msg.Data(), &req); err != nil {
		_ = msg.Term()
		return
	}
	log := w.log.With("file", req.File, "digest", short(req.Digest))
	_ = msg.InProgress()
	m := functions.Meta{Bundle: req.Bundle, Digest: req.Digest, File: req.File,
		UpdatedAt: time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")}
	path, err := w.bundles.get(ctx, req.Bundle, req.Digest)
	if err == nil {
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		var md runner.Metadata
		md, err = w.runner.Describe(dctx, runner.Function{Path: path, Digest: req.Digest})
		cancel()
		if err == nil {
			m.Name, m.Description, m.Auth, m.Tags = md.Name, md.Description, md.Auth, md.Tags
			m.InputSchema, m.OutputSchema = md.InputSchema, md.OutputSchema
			if !functions.ValidName(m.Name) {
				err = errors.New("function name must match ^[a-z][a-z0-9_]*$: " + m.Name)
			}
		}
	}
	if ctx.Err() != nil {
		_ = msg.Nak()
		return
	}
	if err != nil {
		m.Error = err.Error()
		log.Warn("describe function failed", "error", err)
	} else {
		log.Info("function described", "function", m.Name, "auth", m.Auth)
	}
	data, _ := json.Marshal(m)
	key := functions.MetaKey(req.File)
	if req.ResultKey != "" {
		key = req.ResultKey
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		log.Error("store function metadata failed", "error", err)
		_ = msg.Nak()
		return
	}
	_ = msg.Ack()
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// watchVersions stops the idle warm processes of a function version as
// soon as a newer version (or the file's removal) is announced, so old
// code stops serving without waiting for the idle TTL.
func (w *Worker) watchVersions(ctx context.Context, kv jetstream.KeyValue) {
	watcher, err := kv.WatchAll(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("watch function versions failed", "error", err)
		}
		return
	}
	defer watcher.Stop()
	digests := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-watcher.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue
			}
			file := functions.FileOfMetaKey(e.Key())
			old := digests[file]
			if e.Operation() != jetstream.KeyValuePut {
				if old != "" {
					w.runner.Drop(old)
					delete(digests, file)
				}
				continue
			}
			var m functions.Meta
			if json.Unmarshal(e.Value(), &m) != nil {
				continue
			}
			if old != "" && old != m.Digest {
				w.runner.Drop(old)
				w.log.Info("function version replaced", "file", file, "old", short(old), "new", short(m.Digest))
			}
			digests[file] = m.Digest
		}
	}
}
