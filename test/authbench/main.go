// Command authbench measures the auth endpoints of a real `tinybase serve`
// at a fixed concurrency, beside unauthenticated GET /api/health in the
// same run, and prints one table: login (bcrypt at the configured cost),
// refresh (rotation, one database write each), authenticated
// GET /api/auth/me, and GET /api/health.
//
// Rate limits are turned off for the run; everything else is the default
// configuration.
//
// Usage: go run ./test/authbench -bin bin/tinybase [-concurrency 32] [-requests 20000]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinybase/tinybase/test/bench/benchkit"
)

func main() {
	bin := flag.String("bin", "bin/tinybase", "tinybase binary")
	conc := flag.Int("concurrency", 32, "concurrent clients")
	requests := flag.Int("requests", 20000, "requests per round for health and me")
	refreshes := flag.Int("refreshes", 3000, "refresh requests")
	logins := flag.Int("logins", 64, "login requests")
	cost := flag.Int("bcrypt-cost", 12, "bcrypt cost of the benchmark project")
	rounds := flag.Int("rounds", 3, "alternating rounds of health and me")
	flag.Parse()
	if err := run(*bin, *conc, *requests, *refreshes, *logins, *cost, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "authbench:", err)
		os.Exit(1)
	}
}

type result struct {
	name      string
	lat       []time.Duration
	wall      time.Duration
	perSecond float64
}

func (r *result) add(lat []time.Duration, wall time.Duration) {
	r.lat = append(r.lat, lat...)
	r.wall += wall
	r.perSecond = float64(len(r.lat)) / r.wall.Seconds()
}

func (r *result) q(p float64) time.Duration {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	return r.lat[int(p*float64(len(r.lat)-1))]
}

func run(bin string, conc, requests, refreshes, logins, cost, rounds int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	in, err := benchkit.Start(bin, 0, "TINYBASE_AUTH_BCRYPT_COST="+strconv.Itoa(cost),
		"TINYBASE_RATE_LIMIT_ENABLED=false", "TINYBASE_SCHEDULER_ENABLED=false")
	if err != nil {
		return err
	}
	defer in.Stop()
	base := in.Base
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxIdleConns: conc * 2}}
	b := bench{client: client, base: base}

	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := b.do("GET", "/api/health", "", nil, 200); err == nil {
			break
		} else if time.Now().After(deadline) {
			return fmt.Errorf("api never answered: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	creds := map[string]string{"email": benchkit.AdminEmail, "password": benchkit.AdminPassword}
	login := func() (map[string]any, error) {
		body, err := b.do("POST", "/api/auth/login", "", creds, 200)
		if err != nil {
			return nil, err
		}
		var out map[string]any
		return out, json.Unmarshal(body, &out)
	}

	// Login: every request hashes; the pool runs auth.hash_concurrency
	// (default: one per CPU) at once, the rest wait.
	var loginRes result
	loginRes.name = "POST /api/auth/login"
	lat, wall, err := measure(logins, conc, func(int) error { _, err := login(); return err })
	if err != nil {
		return err
	}
	loginRes.add(lat, wall)

	// Refresh: one session per client, each rotating its own chain.
	chains := make([]string, conc)
	var token string
	for i := range chains {
		out, err := login()
		if err != nil {
			return err
		}
		chains[i], _ = out["refresh_token"].(string)
		token, _ = out["access_token"].(string)
	}
	var refreshRes result
	refreshRes.name = "POST /api/auth/refresh"
	lat, wall, err = measure(refreshes, conc, func(w int) error {
		body, err := b.do("POST", "/api/auth/refresh", chains[w], nil, 200)
		if err != nil {
			return err
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			return err
		}
		chains[w], _ = out["refresh_token"].(string)
		return nil
	})
	if err != nil {
		return err
	}
	refreshRes.add(lat, wall)

	health := result{name: "GET /api/health (no auth)"}
	me := result{name: "GET /api/auth/me (bearer)"}
	get := func(path, tok string) func(int) error {
		return func(int) error { _, err := b.do("GET", path, tok, nil, 200); return err }
	}
	// Warm up both paths, then alternate rounds so drift hits both alike.
	for _, f := range []func(int) error{get("/api/health", ""), get("/api/auth/me", token)} {
		if _, _, err := measure(requests/4, conc, f); err != nil {
			return err
		}
	}
	for range rounds {
		lat, wall, err := measure(requests, conc, get("/api/health", ""))
		if err != nil {
			return err
		}
		health.add(lat, wall)
		lat, wall, err = measure(requests, conc, get("/api/auth/me", token))
		if err != nil {
			return err
		}
		me.add(lat, wall)
	}

	// The same requests while logins flood the hash pool: the pool's bound
	// is what keeps them served.
	flood := result{name: "GET /api/auth/me, login flood"}
	stop := make(chan struct{})
	var floodWG sync.WaitGroup
	var floodLogins atomic.Int64
	for range conc {
		floodWG.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := login(); err == nil {
					floodLogins.Add(1)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	lat, wall, err = measure(requests, conc, get("/api/auth/me", token))
	close(stop)
	floodWG.Wait()
	if err != nil {
		return err
	}
	flood.add(lat, wall)

	fmt.Printf("\nauth endpoints at concurrency %d, GOMAXPROCS=%d (%d CPUs), bcrypt cost %d, %s\n\n",
		conc, runtime.GOMAXPROCS(0), runtime.NumCPU(), cost, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("| %-30s | %8s | %9s | %9s | %9s |\n", "request", "requests", "p50", "p99", "req/s")
	fmt.Printf("| %-30s | %8s | %9s | %9s | %9s |\n", "---", "---", "---", "---", "---")
	for _, r := range []*result{&loginRes, &refreshRes, &me, &health, &flood} {
		fmt.Printf("| %-30s | %8d | %9s | %9s | %9.0f |\n", r.name, len(r.lat), r.q(0.5).Round(time.Microsecond),
			r.q(0.99).Round(time.Microsecond), r.perSecond)
	}
	fmt.Printf("\nauthenticated /api/auth/me reaches %.0f%% of /api/health throughput\n",
		100*me.perSecond/health.perSecond)
	fmt.Printf("during the login flood (%d more logins from %d clients), /api/auth/me kept %.0f%% of its throughput\n",
		floodLogins.Load(), conc, 100*flood.perSecond/me.perSecond)
	return nil
}

type bench struct {
	client *http.Client
	base   string
}

func (b bench) do(method, path, token string, body any, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, data)
	}
	return data, nil
}

// measure runs n calls of f on conc goroutines (f gets the goroutine's
// number) and returns each call's latency and the wall time.
func measure(n, conc int, f func(w int) error) ([]time.Duration, time.Duration, error) {
	return benchkit.Measure(n, conc, func(w, _ int) error { return f(w) })
}
