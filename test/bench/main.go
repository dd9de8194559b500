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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/tinybase", "tinybase binary")
	calls := flag.Int("calls", 2000, "calls per measurement")
	conc := flag.Int("concurrency", 8, "concurrent clients for the throughput run")
	workers := flag.Int("workers", 2, "worker processes")
	flag.Parse()
	if err := run(*bin, *calls, *conc, *workers); err != nil {
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

func run(bin string, calls, conc, workers int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tinybase-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command(bin, "init", "--dir", dir, "--admin-email", "admin@example.com",
		"--admin-password", "admin12345").CombinedOutput(); err != nil {
		return fmt.Errorf("init: %v: %s", err, out)
	}
	httpPort, busPort := freePort(), freePort()
	srv := exec.Command(bin, "serve", "--dir", dir, "--workers", strconv.Itoa(workers))
	srv.Env = append(os.Environ(), "TINYBASE_SERVER_HOST=127.0.0.1",
		"TINYBASE_SERVER_PORT="+strconv.Itoa(httpPort), "TINYBASE_BUS_PORT="+strconv.Itoa(busPort),
		"TINYBASE_LOG_LEVEL=warn")
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/api/functions/hello", httpPort)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	call := func() error {
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := call(); err == nil {
			break
		} else if time.Now().After(deadline) {
			return fmt.Errorf("hello never answered: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Warm every pooled process on every worker.
	if _, err := measure(call, 200, conc); err != nil {
		return err
	}

	var rows []stats
	seq, err := measure(call, calls/2, 1)
	if err != nil {
		return err
	}
	rows = append(rows, summarise("tinybase HTTP, 1 client", seq.lat, seq.wall))
	par, err := measure(call, calls, conc)
	if err != nil {
		return err
	}
	rows = append(rows, summarise(fmt.Sprintf("tinybase HTTP, %d clients", conc), par.lat, par.wall))

	raw, err := rawRoundTrips(filepath.Join(dir, "functions"), calls)
	if err != nil {
		return err
	}
	rows = append(rows, summarise("raw warm process, 1 client", raw.lat, raw.wall))

	fmt.Printf("\nwarm `hello` calls, %d workers (warm pool per worker = worker concurrency, 4), %d CPUs, %s\n\n",
		workers, runtime.NumCPU(), time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("| %-28s | %6s | %9s | %9s | %9s | %9s |\n", "path", "calls", "p50", "p99", "max", "calls/s")
	fmt.Printf("| %-28s | %6s | %9s | %9s | %9s | %9s |\n", "---", "---", "---", "---", "---", "---")
	for _, r := range rows {
		fmt.Printf("| %-28s | %6d | %9s | %9s | %9s | %9.0f |\n", r.name, r.n, r.p50.Round(time.Microsecond),
			r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond), r.perSecond)
	}
	fmt.Printf("\nTinyBase overhead per call at p50: %s (%.1fx the raw round trip)\n",
		(rows[0].p50 - rows[2].p50).Round(time.Microsecond), float64(rows[0].p50)/float64(rows[2].p50))
	return nil
}

type sample struct {
	lat  []time.Duration
	wall time.Duration
}

func measure(call func() error, n, conc int) (sample, error) {
	lat := make([]time.Duration, n)
	var next int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if int(i) >= n {
					return
				}
				t0 := time.Now()
				if err := call(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return sample{lat: lat, wall: time.Since(start)}, firstErr
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

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
