package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/tinybase/tinybase/pkg/sdk/python"
)

// BenchmarkWarmCall is one call to a warm Python process through the
// runner; BenchmarkRawRoundTrip is the same exchange written by hand, so the
// difference is what the runner adds per call.
func BenchmarkWarmCall(b *testing.B) {
	f := newFixture(b)
	hello := f.write(b, "hello.py", string(python.HelloExample()), 0o644)
	r := f.runner(b, Options{PoolSize: 1})
	req := Request{Payload: json.RawMessage(`{"name":"Ada"}`), Timeout: 30 * time.Second,
		Context: CallContext{APIBaseURL: "http://127.0.0.1:1", AuthToken: "token"}}
	if res := r.Call(context.Background(), hello, req); res.Status != "succeeded" {
		b.Fatalf("first call: %+v", res)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.ID = ""
		if res := r.Call(context.Background(), hello, req); res.Status != "succeeded" {
			b.Fatalf("call: %+v", res)
		}
	}
}

func BenchmarkRawRoundTrip(b *testing.B) {
	f := newFixture(b)
	hello := f.write(b, "hello.py", string(python.HelloExample()), 0o644)
	cmd := exec.Command("python3", hello.Path, "--serve")
	cmd.Env = buildEnv([]string{"PATH=" + os.Getenv("PATH"), "PYTHONDONTWRITEBYTECODE=1"}, f.sdkDir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	rd := bufio.NewReader(stdout)
	if _, err := rd.ReadBytes('\n'); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		line := []byte(`{"id":"` + strconv.Itoa(i) +
			`","context":{"api_base_url":"http://127.0.0.1:1","auth_token":"token"},"payload":{"name":"Ada"}}` + "\n")
		if _, err := stdin.Write(line); err != nil {
			b.Fatal(err)
		}
		if _, err := rd.ReadBytes('\n'); err != nil {
			b.Fatal(err)
		}
	}
}
