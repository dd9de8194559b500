// Package benchkit holds what the load benchmarks share: a real
// `tinybase serve` started on loopback ports in a temporary folder, an
// HTTP client for it, and a measurement over concurrent clients.
package benchkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Admin credentials of every instance Start creates.
const (
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin12345"
)

// FreePort returns a TCP port free on 127.0.0.1 at the moment.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Instance is a `tinybase serve` started by Start.
type Instance struct {
	// Dir is the project folder.
	Dir string
	// Base is the HTTP address, such as http://127.0.0.1:40123.
	Base string
	root string
	cmd  *exec.Cmd
}

// Start initialises a project in a new temporary folder and serves it with
// the given number of workers, logging warnings and errors to stderr. env
// adds environment variables ("KEY=value") for init and the server.
func Start(bin string, workers int, env ...string) (*Instance, error) {
	root, err := os.MkdirTemp("", "tinybase-bench-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "project")
	initCmd := exec.Command(bin, "init", "--dir", dir, "--admin-email", AdminEmail, "--admin-password", AdminPassword)
	initCmd.Env = append(os.Environ(), env...)
	if out, err := initCmd.CombinedOutput(); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("init: %v: %s", err, out)
	}
	httpPort, busPort := FreePort(), FreePort()
	cmd := exec.Command(bin, "serve", "--dir", dir, "--workers", strconv.Itoa(workers))
	cmd.Env = append(append(os.Environ(), "TINYBASE_SERVER_HOST=127.0.0.1",
		"TINYBASE_SERVER_PORT="+strconv.Itoa(httpPort), "TINYBASE_BUS_PORT="+strconv.Itoa(busPort),
		"TINYBASE_LOG_LEVEL=warn"), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	return &Instance{Dir: dir, Base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), root: root, cmd: cmd}, nil
}

// Stop ends the server with SIGTERM, waits for it, and removes its folder.
func (in *Instance) Stop() {
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	_ = in.cmd.Wait()
	os.RemoveAll(in.root)
}

// Client talks JSON to an instance, with the bearer token once set.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// NewClient returns a client keeping enough idle connections for conc
// concurrent callers.
func NewClient(base string, conc int) *Client {
	return &Client{Base: base, HTTP: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}}
}

// Do sends body (JSON, or nothing when nil) and returns the answer's body,
// or an error when the status is not want.
func (c *Client) Do(method, path string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
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

// LoginAdmin signs in as the instance's admin and keeps the access token,
// retrying for up to wait while the api starts.
func (c *Client) LoginAdmin(wait time.Duration) error {
	body, _ := json.Marshal(map[string]string{"email": AdminEmail, "password": AdminPassword})
	deadline := time.Now().Add(wait)
	for {
		data, err := c.Do("POST", "/api/auth/login", body, 200)
		if err == nil {
			var r struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			c.Token = r.AccessToken
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("api never answered: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Measure runs n calls of fn on conc goroutines (fn gets its goroutine's
// number, 0 to conc-1, and the call's index) and returns each call's
// latency and the wall time. It stops at the first error.
func Measure(n, conc int, fn func(w, i int) error) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := fn(w, i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}
