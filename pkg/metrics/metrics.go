// Package metrics computes the usage figures the admin endpoints and
// dashboard show, straight from the database when asked.
package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/tinybase/tinybase/pkg/store"
)

// FunctionStats summarises one function's calls in a period.
type FunctionStats struct {
	TotalCalls    int      `json:"total_calls"`
	Succeeded     int      `json:"succeeded"`
	Failed        int      `json:"failed"`
	Running       int      `json:"running"`
	AvgDurationMS *float64 `json:"avg_duration_ms"`
	P95DurationMS *int64   `json:"p95_duration_ms"`
}

// CollectionSize is one collection's record count.
type CollectionSize struct {
	CollectionName string `json:"collection_name"`
	RecordCount    int    `json:"record_count"`
}

// FunctionSummary is one row of the dashboard's function table.
type FunctionSummary struct {
	FunctionName string   `json:"function_name"`
	AvgRuntimeMS *float64 `json:"avg_runtime_ms"`
	ErrorRate    float64  `json:"error_rate"`
	TotalCalls   int      `json:"total_calls"`
}

// Reader runs the metric queries.
type Reader struct{ db *store.DB }

// New returns a Reader over db.
func New(db *store.DB) *Reader { return &Reader{db: db} }

// Functions returns per-function call statistics for calls created since
// the given time. Unlike the Python TinyBase, running calls are counted
// apart from failed ones, and every finished duration (zero included)
// enters the average.
func (r *Reader) Functions(ctx context.Context, since time.Time) (map[string]FunctionStats, error) {
	rows, err := r.db.R.QueryContext(ctx, `SELECT function_name,
			COUNT(*),
			SUM(status = 'succeeded'),
			SUM(status = 'failed'),
			SUM(status = 'running'),
			AVG(duration_ms)
		FROM function_calls WHERE created_at >= ? GROUP BY function_name`, store.FormatTime(since))
	if err != nil {
		return nil, fmt.Errorf("function metrics: %w", err)
	}
	defer rows.Close()
	out := map[string]FunctionStats{}
	for rows.Next() {
		var name string
		var s FunctionStats
		if err := rows.Scan(&name, &s.TotalCalls, &s.Succeeded, &s.Failed, &s.Running, &s.AvgDurationMS); err != nil {
			return nil, err
		}
		out[name] = s
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for name, s := range out {
		var p95 int64
		err := r.db.R.QueryRowContext(ctx, `SELECT duration_ms FROM function_calls
			WHERE function_name = ? AND created_at >= ? AND duration_ms IS NOT NULL
			ORDER BY duration_ms LIMIT 1 OFFSET (
				SELECT CAST(COUNT(*) * 0.95 AS INTEGER) FROM function_calls
				WHERE function_name = ? AND created_at >= ? AND duration_ms IS NOT NULL)`,
			name, store.FormatTime(since), name, store.FormatTime(since)).Scan(&p95)
		if err == nil {
			s.P95DurationMS = &p95
			out[name] = s
		}
	}
	return out, nil
}

// Summary returns the dashboard's per-function rows over the period.
func (r *Reader) Summary(ctx context.Context, since time.Time) ([]FunctionSummary, error) {
	stats, err := r.Functions(ctx, since)
	if err != nil {
		return nil, err
	}
	out := make([]FunctionSummary, 0, len(stats))
	for name, s := range stats {
		rate := 0.0
		if finished := s.Succeeded + s.Failed; finished > 0 {
			rate = float64(s.Failed) / float64(finished)
		}
		out = append(out, FunctionSummary{FunctionName: name, AvgRuntimeMS: s.AvgDurationMS, ErrorRate: rate,
			TotalCalls: s.TotalCalls})
	}
	sortSummaries(out)
	return out, nil
}

// Collections returns every collection's record count.
func (r *Reader) Collections(ctx context.Context) ([]CollectionSize, error) {
	rows, err := r.db.R.QueryContext(ctx, `SELECT c.name, COUNT(r.id) FROM collections c
		LEFT JOIN records r ON r.collection_id = c.id GROUP BY c.id ORDER BY c.name`)
	if err != nil {
		return nil, fmt.Errorf("collection sizes: %w", err)
	}
	defer rows.Close()
	out := []CollectionSize{}
	for rows.Next() {
		var c CollectionSize
		if err := rows.Scan(&c.CollectionName, &c.RecordCount); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func sortSummaries(s []FunctionSummary) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].FunctionName < s[j-1].FunctionName; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
