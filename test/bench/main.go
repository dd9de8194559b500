// Command bench measures warm function-call latency and throughput through
// a real `tinybase serve`, next to the raw cost of one round trip to a warm
// function process without TinyBase, in the same run, and prints a table.
//
// Usage: go run ./test/bench -bin bin/tinybase [-calls 2000] [-concurrency 8]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tinybase/tinybase/test/bench/benchkit"
)

func main() {
	bin := flag.String("bin", "bin/tinybase", "tinybase binary")
	calls := flag.Int("calls", 2000, "calls per measurement")
	conc := flag.Int("concurrency", 8, "concurrent clients for the throughput run")
	workers := flag.String("workers", "1,2,4", "worker counts to measure, comma-separated")
	cold := flag.Int("cold", 5, "new functions whose first call is timed")
	flag.Parse()
	var counts []int
	for _, f := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: -workers: %q is not a positive number\n", f)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	if err := run(*bin, *calls, *conc, counts, *cold); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type stats struct {
	name          string
	n             int
	p50, p99, max time.Duration
	perSecond     float64
}

func summarise(name string, lat []time.Duration, wall time.Duration) stats {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	return stats{name: name, n: len(lat), p50: q(0.50), p99: q(0.99), max: lat[len(lat)-1],
		perSecond: float64(len(lat)) / wall.Seconds()}
}

// caller returns a function that calls name once and checks it succeeded.
func caller(base, name string, conc int) func() error {
	url := base + "/api/functions/" + name
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	return func() error {
		resp, err := client.Post(url, "application/json", bytes.NewReader([]byte(`{"name":"Ada"}`)))
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"succeeded"`)) {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	}
}

// waitAnswering calls until call succeeds once.
func waitAnswering(call func() error, what string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := call()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never answered: %w", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// coldCalls adds n copies of hello under new names and times the first
// call of each: the worker has no process for them yet, so each call
// starts one (interpreter and SDK import included).
func coldCalls(in *benchkit.Instance, n int) (sample, error) {
	src, err := os.ReadFile(filepath.Join(in.Dir, "functions", "hello.py"))
	if err != nil {
		return sample{}, err
	}
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("cold_%d", i)
		code := strings.Replace(string(src), `name="hello"`, fmt.Sprintf("name=%q", name), 1)
		if code == string(src) {
			return sample{}, fmt.Errorf("hello.py has no name=\"hello\" to rename")
		}
		if err := os.WriteFile(filepath.Join(in.Dir, "functions", name+".py"), []byte(code), 0o644); err != nil {
			return sample{}, err
		}
		names = append(names, name)
	}
	// Wait until every copy is listed, without calling it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(in.Base + "/api/functions")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			all := true
			for _, name := range names {
				all = all && bytes.Contains(body, []byte(`"`+name+`"`))
			}
			if all {
				break
			}
		}
		if time.Now().After(deadline) {
			return sample{}, fmt.Errorf("cold functions never listed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for _, name := range names {
		t0 := time.Now()
		if err := caller(in.Base, name, 1)(); err != nil {
			return sample{}, fmt.Errorf("cold call %s: %w", name, err)
		}
		lat = append(lat, time.Since(t0))
	}
	return sample{lat: lat, wall: time.Since(start)}, nil
}

func run(bin string, calls, conc int, workerCounts []int, cold int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	var rows []stats
	var seqRows []int // index in rows of each 1-client row
	var coldRow *stats
	var fnDir string
	for i, workers := range workerCounts {
		in, err := benchkit.Start(bin, workers)
		if err != nil {
			return err
		}
		err = func() error {
			call := caller(in.Base, "hello", conc)
			if err := waitAnswering(call, "hello"); err != nil {
				return err
			}
			// Warm every pooled process on every worker.
			if _, err := measure(call, 200, conc); err != nil {
				return err
			}
			seq, err := measure(call, calls/2, 1)
			if err != nil {
				return err
			}
			seqRows = append(seqRows, len(rows))
			rows = append(rows, summarise(fmt.Sprintf("HTTP, %d worker(s), 1 client", workers), seq.lat, seq.wall))
			par, err := measure(call, calls, conc)
			if err != nil {
				return err
			}
			rows = append(rows, summarise(fmt.Sprintf("HTTP, %d worker(s), %d clients", workers, conc),
				par.lat, par.wall))
			if i == len(workerCounts)-1 {
				if cold > 0 {
					c, err := coldCalls(in, cold)
					if err != nil {
						return err
					}
					st := summarise("HTTP, first call of a new function", c.lat, c.wall)
					coldRow = &st
				}
				// Keep a copy of the functions folder for the raw run.
				fnDir, err = os.MkdirTemp("", "tinybase-bench-fn-")
				if err != nil {
					return err
				}
				cp := exec.Command("cp", "-r", filepath.Join(in.Dir, "functions"), fnDir)
				if out, err := cp.CombinedOutput(); err != nil {
					return fmt.Errorf("copy functions: %v: %s", err, out)
				}
				fnDir = filepath.Join(fnDir, "functions")
			}
			return nil
		}()
		in.Stop()
		if err != nil {
			return err
		}
	}
	defer os.RemoveAll(filepath.Dir(fnDir))
	if coldRow != nil {
		rows = append(rows, *coldRow)
	}
	raw, err := rawRoundTrips(fnDir, calls)
	if err != nil {
		return err
	}
	rawRow := summarise("raw warm process, 1 client", raw.lat, raw.wall)
	rows = append(rows, rawRow)

	fmt.Printf("\n`hello` calls (warm pool per worker = worker concurrency, 4), %d CPUs, %s\n\n",
		runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("| %-36s | %6s | %9s | %9s | %9s | %9s |\n", "path", "calls", "p50", "p99", "max", "calls/s")
	fmt.Printf("| %-36s | %6s | %9s | %9s | %9s | %9s |\n", "---", "---", "---", "---", "---", "---")
	for _, r := range rows {
		fmt.Printf("| %-36s | %6d | %9s | %9s | %9s | %9.0f |\n", r.name, r.n, r.p50.Round(time.Microsecond),
			r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond), r.perSecond)
	}
	fmt.Println()
	for _, i := range seqRows {
		fmt.Printf("TinyBase overhead per warm call at p50 (%s): %s (%.1fx the raw round trip)\n", rows[i].name,
			(rows[i].p50 - rawRow.p50).Round(time.Microsecond), float64(rows[i].p50)/float64(rawRow.p50))
	}
	return nil
}

type sample struct {
	lat  []time.Duration
	wall time.Duration
}

func measure(call func() error, n, conc int) (sample, error) {
	lat, wall, err := benchkit.Measure(n, conc, func(int, int) error { return call() })
	return sample{lat: lat, wall: wall}, err
}

// rawRoundTrips talks the function protocol straight to one warm
// `python3 hello.py --serve` process: the floor any dispatcher pays.
func rawRoundTrips(fnDir string, n int) (sample, error) {
	cmd := exec.Command("python3", filepath.Join(fnDir, "hello.py"), "--serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PYTHONPATH=" + fnDir, "PYTHONUNBUFFERED=1",
		"HOME=" + os.Getenv("HOME")}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return sample{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	rd := bufio.NewReader(stdout)
	if _, err := rd.ReadBytes('\n'); err != nil { // ready line
		return sample{}, fmt.Errorf("raw process not ready: %w", err)
	}
	roundTrip := func(i int) error {
		req, _ := json.Marshal(map[string]any{"id": strconv.Itoa(i), "context": map[string]any{
			"request_id": strconv.Itoa(i), "function_name": "hello"}, "payload": map[string]string{"name": "Ada"}})
		if _, err := stdin.Write(append(req, '\n')); err != nil {
			return err
		}
		line, err := rd.ReadBytes('\n')
		if err != nil {
			return err
		}
		if !bytes.Contains(line, []byte(`"succeeded"`)) {
			return fmt.Errorf("raw answer: %s", line)
		}
		return nil
	}
	for i := 0; i < 100; i++ {
		if err := roundTrip(i); err != nil {
			return sample{}, err
		}
	}
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := roundTrip(i); err != nil {
			return sample{}, err
		}
		lat[i] = time.Since(t0)
	}
	return sample{lat: lat, wall: time.Since(start)}, nil
}
