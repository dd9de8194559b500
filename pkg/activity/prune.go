package activity

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// pruneChunk is how many entries one delete transaction removes, so a
// large prune never holds the database writer for long.
const pruneChunk = 5000

// Prune deletes the entries older than before and returns how many it
// deleted.
func (l *Log) Prune(ctx context.Context, before time.Time) (int64, error) {
	cut := store.FormatTime(before)
	var total int64
	for {
		var n int64
		err := l.db.Tx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM activity WHERE id IN
				(SELECT id FROM activity WHERE at < ? ORDER BY at LIMIT ?)`, cut, pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune activity: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// Retention keeps the log to a number of days by pruning it now and then
// every interval until ctx ends. days is read before every prune, so a
// changed setting applies at the next one; 0 or less keeps everything.
func (l *Log) Retention(ctx context.Context, interval time.Duration, days func() int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if d := days(); d > 0 {
			n, err := l.Prune(ctx, time.Now().AddDate(0, 0, -d))
			switch {
			case err != nil && ctx.Err() == nil:
				l.log.Warn("prune activity log failed", "error", err)
			case n > 0:
				l.log.Info("activity log pruned", "deleted", n, "retention_days", d)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
