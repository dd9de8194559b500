// Command records measures the records API of a real `tinybase serve`:
// create, get by id, list 20 and a filtered list on an indexed field, each
// at a fixed concurrency, at 10k and at 100k records. In the same run it
// measures a raw SQLite loop of single-row insert transactions (same
// driver, same pragmas as the server's write connection), the floor the
// create path is compared with, and prints a table.
//
// Usage: go run ./test/bench/records -bin bin/tinybase [-concurrency 32]
// [-small 10000] [-large 100000] [-requests 3000] [-raw 3000]
package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/tinybase/tinybase/test/bench/benchkit"
)

func main() {
	bin := flag.String("bin", "bin/tinybase", "tinybase binary")
	conc := flag.Int("concurrency", 32, "concurrent clients")
	small := flag.Int("small", 10_000, "records for the first set of reads")
	large := flag.Int("large", 100_000, "records for the second set of reads")
	requests := flag.Int("requests", 3000, "requests per read measurement")
	raw := flag.Int("raw", 3000, "transactions in the raw SQLite loop")
	flag.Parse()
	if err := run(*bin, *conc, *small, *large, *requests, *raw); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct {
	name    string
	records int
	n       int
	p50     time.Duration
	p99     time.Duration
	perSec  float64
}

func summarise(name string, records int, lat []time.Duration, wall time.Duration) row {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	return row{name: name, records: records, n: len(lat), p50: q(0.5), p99: q(0.99),
		perSec: float64(len(lat)) / wall.Seconds()}
}

func run(bin string, conc, small, large, requests, rawN int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tinybase-bench-records-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The raw floor first, on an idle machine, as the server will be.
	rawFull, err := rawInserts(filepath.Join(dir, "raw-full.db"), "full", rawN)
	if err != nil {
		return err
	}
	rawNormal, err := rawInserts(filepath.Join(dir, "raw-normal.db"), "normal", rawN)
	if err != nil {
		return err
	}

	in, err := benchkit.Start(bin, 1)
	if err != nil {
		return err
	}
	defer in.Stop()
	s := benchkit.NewClient(in.Base, conc)
	if err := s.LoginAdmin(60 * time.Second); err != nil {
		return err
	}
	if _, err := s.Do("POST", "/api/collections", []byte(`{"name": "bench", "label": "Bench", "schema": {"fields": [
		{"name": "title", "type": "string", "required": true}, {"name": "n", "type": "integer"},
		{"name": "bucket", "type": "integer", "index": true}]}}`), 201); err != nil {
		return err
	}

	var (
		rows []row
		ids  []string
		idMu sync.Mutex
	)
	// bucket groups 50 consecutive records, so a bucket filter matches 50
	// records at any collection size.
	create := func(from, to int) (row, error) {
		lat, wall, err := benchkit.Measure(to-from, conc, func(_, i int) error {
			n := from + i
			body := fmt.Sprintf(`{"data": {"title": "record %d", "n": %d, "bucket": %d}}`, n, n, n/50)
			data, err := s.Do("POST", "/api/collections/bench/records", []byte(body), 201)
			if err != nil {
				return err
			}
			var r struct{ ID string }
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			idMu.Lock()
			ids = append(ids, r.ID)
			idMu.Unlock()
			return nil
		})
		if err != nil {
			return row{}, err
		}
		return summarise(fmt.Sprintf("create, %d clients", conc), to, lat, wall), nil
	}
	reads := func(records int) error {
		rng := rand.New(rand.NewPCG(uint64(records), 7))
		var rngMu sync.Mutex
		pick := func(n int) int {
			rngMu.Lock()
			defer rngMu.Unlock()
			return rng.IntN(n)
		}
		for _, op := range []struct {
			name string
			path func() string
		}{
			{"get by id", func() string { return "/api/collections/bench/records/" + ids[pick(len(ids))] }},
			{"list 20", func() string { return "/api/collections/bench/records?limit=20" }},
			{"filtered list 20 (bucket = k)", func() string {
				return "/api/collections/bench/records?limit=20&filter=" +
					url.QueryEscape(fmt.Sprintf("bucket = %d", pick(records/50)))
			}},
		} {
			// A short warm-up, then the measurement.
			get := func(int, int) error { _, err := s.Do("GET", op.path(), nil, 200); return err }
			if _, _, err := benchkit.Measure(200, conc, get); err != nil {
				return err
			}
			lat, wall, err := benchkit.Measure(requests, conc, get)
			if err != nil {
				return err
			}
			rows = append(rows, summarise(fmt.Sprintf("%s, %d clients", op.name, conc), records, lat, wall))
		}
		return nil
	}

	r, err := create(0, small)
	if err != nil {
		return err
	}
	rows = append(rows, r)
	createRate := r.perSec
	if err := reads(small); err != nil {
		return err
	}
	r, err = create(small, large)
	if err != nil {
		return err
	}
	rows = append(rows, r)
	if err := reads(large); err != nil {
		return err
	}
	rows = append(rows, rawFull, rawNormal)

	fmt.Printf("\nrecords API, GOMAXPROCS=%s, %d CPUs, %s\n\n", os.Getenv("GOMAXPROCS"), numCPU(),
		time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("| %-52s | %7s | %6s | %9s | %9s | %8s |\n", "operation", "records", "calls", "p50", "p99", "per s")
	fmt.Printf("| %-52s | %7s | %6s | %9s | %9s | %8s |\n", "---", "---", "---", "---", "---", "---")
	for _, r := range rows {
		fmt.Printf("| %-52s | %7d | %6d | %9s | %9s | %8.0f |\n", r.name, r.records, r.n,
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.perSec)
	}
	var filtered []row
	for _, r := range rows {
		if len(r.name) > 8 && r.name[:8] == "filtered" {
			filtered = append(filtered, r)
		}
	}
	fmt.Printf("\ncreate at %d clients (first %d): %.0f/s = %.0f%% of the raw synchronous=FULL rate (%.0f/s), "+
		"%.0f%% of the raw synchronous=NORMAL rate (%.0f/s)\n", conc, small, createRate,
		100*createRate/rawFull.perSec, rawFull.perSec, 100*createRate/rawNormal.perSec, rawNormal.perSec)
	if len(filtered) == 2 {
		fmt.Printf("filtered list p50: %s at %d, %s at %d records: %.2fx\n", filtered[0].p50.Round(time.Microsecond),
			filtered[0].records, filtered[1].p50.Round(time.Microsecond), filtered[1].records,
			float64(filtered[1].p50)/float64(filtered[0].p50))
	}
	return nil
}

// rawInserts is the floor for creates: one goroutine inserting one row per
// transaction into a table shaped like records (same indexes, a JSON data
// field index like the benchmark collection's), through the same driver,
// with WAL and the given synchronous mode.
func rawInserts(path, sync string, n int) (row, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"+
		"&_pragma=journal_mode(wal)&_pragma=synchronous("+sync+")&_txlock=immediate")
	if err != nil {
		return row{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		`CREATE TABLE records (id TEXT PRIMARY KEY, collection_id TEXT NOT NULL, owner_id TEXT,
			data TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
		`CREATE INDEX records_collection_created ON records (collection_id, created_at)`,
		`CREATE INDEX records_owner ON records (owner_id)`,
		`CREATE INDEX records_bucket ON records (collection_id, json_extract(data, '$."bucket"'))
			WHERE collection_id = 'c'`,
	} {
		if _, err := db.Exec(q); err != nil {
			return row{}, err
		}
	}
	owner := uuid.NewString()
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		tx, err := db.Begin()
		if err != nil {
			return row{}, err
		}
		now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		if _, err := tx.Exec(`INSERT INTO records (id, collection_id, owner_id, data, created_at, updated_at)
			VALUES (?, 'c', ?, ?, ?, ?)`, uuid.NewString(), owner,
			fmt.Sprintf(`{"title":"record %d","n":%d,"bucket":%d}`, i, i, i/50), now, now); err != nil {
			return row{}, err
		}
		if err := tx.Commit(); err != nil {
			return row{}, err
		}
		lat[i] = time.Since(t0)
	}
	return summarise("raw SQLite insert, 1 row per tx, synchronous="+sync, n, lat, time.Since(start)), nil
}

func numCPU() int {
	n := 0
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("processor")) {
			n++
		}
	}
	return n
}
