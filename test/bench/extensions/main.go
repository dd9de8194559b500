// Command extensions measures what extensions cost the record create path
// of a real `tinybase serve`, in one run: with no extension, with one
// extension observing every create through an after-hook
// (test/bench/extensions/observer), and with one before-create hook (the
// wordfilter example, which checks every string against its word list).
// Both are installed once, from source, and switched by enable/disable.
// Phases alternate for -rounds rounds so that a growing table and the
// machine's load weigh on each alike; each phase measures sequential
// creates (one client: the latency a hook adds) and concurrent creates
// (throughput). The added latency is the median over rounds of the
// before-hook phase's p50 minus the no-extension phase's p50 of the same
// round; the program fails when it exceeds 0.5 ms.
//
// Usage: go run ./test/bench/extensions -bin bin/tinybase [-requests 1000]
// [-concurrency 16] [-rounds 5]
package main

import (
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/tinybase", "tinybase binary")
	requests := flag.Int("requests", 1000, "creates per phase and mode")
	conc := flag.Int("concurrency", 16, "clients of the concurrent mode")
	rounds := flag.Int("rounds", 5, "rounds of the three phases")
	flag.Parse()
	if err := run(*bin, *requests, *conc, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type server struct {
	base   string
	token  string
	client *http.Client
}

func (s *server) do(method, path string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return data, nil
}

// measure runs n creates on conc goroutines and returns their latencies
// and the wall time.
func (s *server) measure(n, conc int) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				body := fmt.Sprintf(`{"data": {"title": "record %d", "note": "nothing to see", "n": %d}}`, i, i)
				t0 := time.Now()
				if _, err := s.do("POST", "/api/collections/bench/records", []byte(body), 201); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

type result struct {
	seq, par   []time.Duration
	seqWall    time.Duration
	parWall    time.Duration
	seqN, parN int
}

func quantile(lat []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}

func run(bin string, requests, conc, rounds int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tinybase-bench-ext-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	proj := filepath.Join(dir, "project")
	if out, err := exec.Command(bin, "init", "--dir", proj, "--admin-email", "admin@example.com",
		"--admin-password", "admin12345").CombinedOutput(); err != nil {
		return fmt.Errorf("init: %v: %s", err, out)
	}
	httpPort, busPort := freePort(), freePort()
	srv := exec.Command(bin, "serve", "--dir", proj, "--workers", "1")
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
	s := &server{base: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, err := s.do("POST", "/api/auth/login", []byte(`{"email":"admin@example.com","password":"admin12345"}`), 200)
		if err == nil {
			var r struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(body, &r); err != nil {
				return err
			}
			s.token = r.AccessToken
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("api never answered: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := s.do("POST", "/api/collections", []byte(`{"name": "bench", "label": "Bench", "schema": {"fields": [
		{"name": "title", "type": "string", "required": true}, {"name": "note", "type": "string"},
		{"name": "n", "type": "integer"}]}}`), 201); err != nil {
		return err
	}
	root, err := filepath.Abs(".")
	if err != nil {
		return err
	}
	for _, src := range []string{"test/bench/extensions/observer", "examples/extensions/wordfilter"} {
		body, _ := json.Marshal(map[string]any{"path": filepath.Join(root, src), "is_enabled": false})
		if _, err := s.do("POST", "/api/admin/extensions", body, 201); err != nil {
			return fmt.Errorf("install %s: %w", src, err)
		}
	}
	enable := func(name string, on bool) error {
		body := fmt.Appendf(nil, `{"is_enabled": %t}`, on)
		if _, err := s.do("PATCH", "/api/admin/extensions/"+name, body, 200); err != nil {
			return err
		}
		if !on {
			return nil
		}
		for range 100 {
			data, err := s.do("GET", "/api/admin/extensions/"+name, nil, 200)
			if err != nil {
				return err
			}
			var st struct {
				Status struct{ State string } `json:"status"`
			}
			_ = json.Unmarshal(data, &st)
			if st.Status.State == "running" {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Errorf("%s did not start", name)
	}

	phases := []struct{ name, ext string }{
		{"no extension", ""},
		{"after-create observer", "benchobserver"},
		{"before-create hook (wordfilter)", "wordfilter"},
	}
	results := make([]result, len(phases))
	// added holds, per round, the before-hook phase's sequential p50 minus
	// the no-extension phase's of the same round: adjacent in time, so
	// that changes in the machine's load weigh on both alike.
	var added []time.Duration
	for range rounds {
		var p50s [3]time.Duration
		for i, ph := range phases {
			if ph.ext != "" {
				if err := enable(ph.ext, true); err != nil {
					return err
				}
			}
			if _, _, err := s.measure(requests/10, 1); err != nil { // warm-up
				return err
			}
			seq, seqWall, err := s.measure(requests, 1)
			if err != nil {
				return err
			}
			par, parWall, err := s.measure(requests, conc)
			if err != nil {
				return err
			}
			p50s[i] = quantile(seq, 0.5)
			r := &results[i]
			r.seq, r.par = append(r.seq, seq...), append(r.par, par...)
			r.seqWall += seqWall
			r.parWall += parWall
			r.seqN += len(seq)
			r.parN += len(par)
			if ph.ext != "" {
				if err := enable(ph.ext, false); err != nil {
					return err
				}
			}
		}
		added = append(added, p50s[2]-p50s[0])
	}

	fmt.Printf("\nrecord create with extensions (%d rounds × %d creates per mode)\n\n", rounds, requests)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\t1 client p50\tp99\tcreates/s\t"+strconv.Itoa(conc)+" clients p50\tcreates/s\t")
	for i, ph := range phases {
		r := results[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%.0f\t\n", ph.name, ms(quantile(r.seq, 0.5)), ms(quantile(r.seq, 0.99)),
			float64(r.seqN)/r.seqWall.Seconds(), ms(quantile(r.par, 0.5)), float64(r.parN)/r.parWall.Seconds())
	}
	tw.Flush()
	perRound := make([]string, len(added))
	for i, a := range added {
		perRound[i] = ms(a)
	}
	med := quantile(added, 0.5)
	fmt.Printf("\nbefore-create hook adds %s to the create p50 (1 client; median over rounds, each: %s); "+
		"budget 0.5 ms\n", ms(med), strings.Join(perRound, ", "))
	if med > 500*time.Microsecond {
		return fmt.Errorf("before-create hook adds %s to the p50, over the 0.5 ms budget", ms(med))
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
