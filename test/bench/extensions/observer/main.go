// Command observer is the extension the extension benchmark installs: it
// observes every record creation with an after-hook and does nothing else.
package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tinybase/tinybase/pkg/sdk/extension"
)

func main() {
	var seen atomic.Int64
	// The last update and delete seen, so tests can check what after-hooks
	// are told.
	var mu sync.Mutex
	last := map[string]any{}
	ext := extension.New("benchobserver", "1.0.0")
	ext.Description = "Counts created records (benchmark)."
	ext.AfterCreate(func(context.Context, *extension.RecordEvent) error {
		seen.Add(1)
		return nil
	})
	ext.AfterUpdate(func(_ context.Context, ev *extension.RecordEvent) error {
		mu.Lock()
		last["update"] = map[string]any{"id": ev.RecordID, "data": ev.Data, "old_data": ev.OldData,
			"owner_id": ev.OwnerID}
		mu.Unlock()
		return nil
	})
	ext.AfterDelete(func(_ context.Context, ev *extension.RecordEvent) error {
		mu.Lock()
		last["delete"] = map[string]any{"id": ev.RecordID, "data": ev.Data, "owner_id": ev.OwnerID}
		mu.Unlock()
		return nil
	})
	ext.Route("GET", "/seen", "admin", func(context.Context, *extension.Request) (*extension.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		return extension.JSON(200, map[string]any{"seen": seen.Load(), "update": last["update"],
			"delete": last["delete"]}), nil
	})
	ext.Serve()
}
