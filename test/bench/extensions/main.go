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
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tinybase/tinybase/test/bench/benchkit"
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

// measureCreates runs n creates on conc goroutines and returns their
// latencies and the wall time.
func measureCreates(c *benchkit.Client, n, conc int) ([]time.Duration, time.Duration, error) {
	return benchkit.Measure(n, conc, func(_, i int) error {
		body := fmt.Sprintf(`{"data": {"title": "record %d", "note": "nothing to see", "n": %d}}`, i, i)
		_, err := c.Do("POST", "/api/collections/bench/records", []byte(body), 201)
		return err
	})
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
		if _, err := s.Do("POST", "/api/admin/extensions", body, 201); err != nil {
			return fmt.Errorf("install %s: %w", src, err)
		}
	}
	enable := func(name string, on bool) error {
		body := fmt.Appendf(nil, `{"is_enabled": %t}`, on)
		if _, err := s.Do("PATCH", "/api/admin/extensions/"+name, body, 200); err != nil {
			return err
		}
		if !on {
			return nil
		}
		for range 100 {
			data, err := s.Do("GET", "/api/admin/extensions/"+name, nil, 200)
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
			if _, _, err := measureCreates(s, requests/10, 1); err != nil { // warm-up
				return err
			}
			seq, seqWall, err := measureCreates(s, requests, 1)
			if err != nil {
				return err
			}
			par, parWall, err := measureCreates(s, requests, conc)
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
