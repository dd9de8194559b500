package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestWorkerFromAnotherHost runs the only worker in a network namespace of
// its own, as another host would: it reaches the bus by address and
// credentials, has no project folder, fetches the function bundle from the
// bus and serves the calls.
func TestWorkerFromAnotherHost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root")
	}
	ipTool, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("iproute2 (ip) is not installed")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipTool, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	// A private /30 on a veth pair that exists only inside this test.
	suffix := strconv.Itoa(os.Getpid() % 10000)
	ns, hostIf, nsIf := "tbtest"+suffix, "tbh"+suffix, "tbn"+suffix
	hostAddr, nsAddr := "10.213.77.1", "10.213.77.2"
	ip("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command(ipTool, "netns", "del", ns).Run() })
	ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() { _ = exec.Command(ipTool, "link", "del", hostIf).Run() })
	ip("link", "set", nsIf, "netns", ns)
	ip("addr", "add", hostAddr+"/30", "dev", hostIf)
	ip("link", "set", hostIf, "up")
	ip("netns", "exec", ns, ipTool, "addr", "add", nsAddr+"/30", "dev", nsIf)
	ip("netns", "exec", ns, ipTool, "link", "set", nsIf, "up")
	ip("netns", "exec", ns, ipTool, "link", "set", "lo", "up")

	dir := initProject(t)
	toml := "[bus]\nhost = \"" + hostAddr + "\"\n"
	if err := os.WriteFile(filepath.Join(dir, "tinybase.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	in := serve(t, dir, 0)
	var sec struct {
		BusUser     string `json:"bus_user"`
		BusPassword string `json:"bus_password"`
	}
	data, err := os.ReadFile(filepath.Join(dir, ".tinybase", "secrets.json"))
	if err != nil || json.Unmarshal(data, &sec) != nil {
		t.Fatalf("secrets: %v", err)
	}

	// The remote worker: no project folder, only the bus address and
	// credentials, in the other namespace.
	remoteDir := t.TempDir()
	w := exec.Command(ipTool, "netns", "exec", ns, binary, "worker", "--id", "remote-1",
		"--bus-url", fmt.Sprintf("nats://%s:%d", hostAddr, in.busPort),
		"--bus-user", sec.BusUser, "--bus-password", sec.BusPassword, "--dir", remoteDir)
	w.Env = os.Environ()
	wlog := &syncBuffer{}
	w.Stdout, w.Stderr = wlog, wlog
	w.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-w.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = w.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-w.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("remote worker log:\n%s", wlog.String())
		}
	})

	var res callResponse
	waitFor(t, 60*time.Second, "hello served by the remote worker", func() error {
		code, body := in.do("POST", "/api/functions/hello", "", map[string]string{"name": "Ada"}, &res)
		if code != 200 || res.Status != "succeeded" {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if res.Result["message"] != "Hello, Ada!" {
		t.Fatalf("answer %+v", res)
	}
	token := in.login("admin@example.com", "admin12345")
	var call map[string]any
	if code, body := in.do("GET", "/api/admin/functions/calls/"+res.CallID, token, nil, &call); code != 200 ||
		call["worker_id"] != "remote-1" {
		t.Fatalf("call record: %d %s", code, body)
	}
}
