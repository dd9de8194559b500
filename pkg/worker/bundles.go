package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// bundleCache keeps downloaded function bundles on local disk, one folder
// per digest, so each version is fetched from the bus once per worker.
type bundleCache struct {
	dir string
	obs jetstream.ObjectStore
	mu  sync.Mutex
}

// get returns the local path of the bundle, downloading and checking it if
// needed.
func (b *bundleCache) get(ctx context.Context, name, digest string) (string, error) {
	file := filepath.Base(name)
	if digest == "" || strings.ContainsAny(digest, "/\\.") || file == "." || file == "/" {
		return "", fmt.Errorf("invalid bundle reference %q", name)
	}
	dir := filepath.Join(b.dir, digest)
	path := filepath.Join(dir, file)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	data, err := b.obs.GetBytes(ctx, name)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != digest {
		return "", fmt.Errorf("bundle %s: digest mismatch (got %s)", name, got[:12])
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return path, nil
}
