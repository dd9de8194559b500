// Command scheduler measures the scheduler role: fire lateness with many
// schedules due in the same minute, and its CPU use while it waits.
//
// It runs the real `tinybase scheduler` process against an embedded bus,
// plays the api's part in this process (it answers the schedule list) and
// timestamps every fire as it arrives on the bus. Lateness is the arrival
// time minus the instant the fire is for; both clocks are this machine's.
//
// Usage: go run ./test/bench/scheduler -bin bin/tinybase [-schedules 10000]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/config"
	busv1 "github.com/tinybase/tinybase/proto/tinybase/bus/v1"
)

func main() {
	bin := flag.String("bin", "bin/tinybase", "tinybase binary")
	n := flag.Int("schedules", 10000, "active schedules")
	idle := flag.Duration("idle", 20*time.Second, "idle window for the CPU measurement")
	flag.Parse()
	if err := run(*bin, *n, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "bench scheduler:", err)
		os.Exit(1)
	}
}

// fakeAPI answers tb.schedules.list from a fixed set of schedules.
type fakeAPI struct {
	mu     sync.Mutex
	scheds []*busv1.ScheduleState // sorted by id
	served int
}

func (a *fakeAPI) answer(m *nats.Msg) {
	var req busv1.ListSchedulesRequest
	_ = proto.Unmarshal(m.Data, &req)
	a.mu.Lock()
	defer a.mu.Unlock()
	i := sort.Search(len(a.scheds), func(i int) bool { return a.scheds[i].Id > req.AfterId })
	reply := &busv1.ListSchedulesReply{}
	for ; i < len(a.scheds) && len(reply.Schedules) < int(req.Limit); i++ {
		reply.Schedules = append(reply.Schedules, a.scheds[i])
	}
	reply.More = i < len(a.scheds)
	a.served++
	data, _ := proto.Marshal(reply)
	_ = m.Respond(data)
}

// cpuTime returns the user+system CPU time of a process.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

type result struct {
	name          string
	n             int
	p50, p99, max time.Duration
	pubP99        time.Duration
	cpu           time.Duration
}

func quantile(d []time.Duration, p float64) time.Duration {
	return d[int(p*float64(len(d)-1))]
}

func run(bin string, n int, idle time.Duration) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tinybase-bench-scheduler-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command(bin, "init", "--dir", dir, "--admin-email", "admin@example.com",
		"--admin-password", "admin12345").CombinedOutput(); err != nil {
		return fmt.Errorf("init: %v: %s", err, out)
	}
	cfg, err := config.Load(dir, nil)
	if err != nil {
		return err
	}
	user, pass := cfg.BusCredentials()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := bus.StartServer(bus.ServerOptions{Host: "127.0.0.1", StoreDir: filepath.Join(dir, ".tinybase", "bus"),
		User: user, Password: pass, Logger: quiet})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	conn, err := bus.Connect(context.Background(), bus.ConnectOptions{URL: srv.ClientURL(), User: user,
		Password: pass, Logger: quiet})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := bus.EnsureTopology(context.Background(), conn.JS); err != nil {
		return err
	}

	// Two rounds of n schedules: spread evenly over one minute, then all
	// due at the same instant. After firing, each waits an hour.
	base := time.Now().Add(20 * time.Second).Truncate(time.Second)
	burst := base.Add(90 * time.Second)
	api := &fakeAPI{}
	spec := []byte(`{"method":"interval","unit":"hours","value":1}`)
	due := map[string]string{}
	for i := 0; i < 2*n; i++ {
		id := uuid.NewString()
		at := burst
		round := "burst"
		if i < n {
			at = base.Add(time.Duration(i) * time.Minute / time.Duration(n))
			round = "spread"
		}
		due[id] = round
		api.scheds = append(api.scheds, &busv1.ScheduleState{Id: id, SpecJson: spec, IsActive: true,
			NextRunAtUs: at.UnixMicro(), Revision: 1})
	}
	sort.Slice(api.scheds, func(i, j int) bool { return api.scheds[i].Id < api.scheds[j].Id })
	if _, err := conn.NC.Subscribe(bus.SchedulesListSubject, api.answer); err != nil {
		return err
	}

	type arrival struct {
		round      string
		late, pubd time.Duration
	}
	var mu sync.Mutex
	var arrivals []arrival
	sub, err := conn.NC.Subscribe(bus.FireSubjectPrefix+">", func(m *nats.Msg) {
		now := time.Now()
		var f busv1.Fire
		if proto.Unmarshal(m.Data, &f) != nil {
			return
		}
		at := time.UnixMicro(f.DueAtUs)
		mu.Lock()
		arrivals = append(arrivals, arrival{round: due[f.ScheduleId], late: now.Sub(at),
			pubd: time.UnixMicro(f.PublishedAtUs).Sub(at)})
		mu.Unlock()
	})
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(-1, -1)

	cmd := exec.Command(bin, "scheduler", "--dir", dir, "--id", "bench", "--bus-url", srv.ClientURL())
	cmd.Env = append(os.Environ(), "TINYBASE_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	pid := cmd.Process.Pid

	deadline := time.Now().Add(15 * time.Second)
	for {
		api.mu.Lock()
		served := api.served
		api.mu.Unlock()
		if served >= (2*n+999)/1000 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scheduler did not load the schedules (%d pages served)", served)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("scheduler loaded %d schedules; first due in %v\n", 2*n, time.Until(base).Round(time.Second))

	// Idle CPU: loaded (give it two seconds to build its heap), nothing
	// due yet.
	time.Sleep(2 * time.Second)
	idleWin := min(idle, time.Until(base)-2*time.Second)
	c0, _ := cpuTime(pid)
	time.Sleep(idleWin)
	c1, _ := cpuTime(pid)
	idleCPU := c1 - c0

	measure := func(round string, until time.Time) result {
		cs, _ := cpuTime(pid)
		time.Sleep(time.Until(until))
		ce, _ := cpuTime(pid)
		mu.Lock()
		var late, pub []time.Duration
		for _, a := range arrivals {
			if a.round == round {
				late, pub = append(late, a.late), append(pub, a.pubd)
			}
		}
		mu.Unlock()
		sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
		sort.Slice(pub, func(i, j int) bool { return pub[i] < pub[j] })
		r := result{name: round, n: len(late), cpu: ce - cs}
		if len(late) > 0 {
			r.p50, r.p99, r.max = quantile(late, .5), quantile(late, .99), late[len(late)-1]
			r.pubP99 = quantile(pub, .99)
		}
		return r
	}
	time.Sleep(time.Until(base.Add(-time.Second)))
	spread := measure("spread", base.Add(time.Minute+2*time.Second))
	time.Sleep(time.Until(burst.Add(-time.Second)))
	burstRes := measure("burst", burst.Add(5*time.Second))

	// Idle again, with every schedule waiting an hour.
	c2, _ := cpuTime(pid)
	time.Sleep(idle)
	c3, _ := cpuTime(pid)

	fmt.Printf("\nscheduler fire lateness (arrival on the bus minus due instant), %d schedules per round\n", n)
	fmt.Printf("%-32s %7s %10s %10s %10s %14s %12s\n", "round", "fires", "p50", "p99", "max", "publish p99", "cpu")
	for _, r := range []result{spread, burstRes} {
		label := map[string]string{"spread": "spread over one minute", "burst": "all at the same instant"}[r.name]
		fmt.Printf("%-32s %7d %10v %10v %10v %14v %12v\n", label, r.n, r.p50.Round(10*time.Microsecond),
			r.p99.Round(10*time.Microsecond), r.max.Round(10*time.Microsecond),
			r.pubP99.Round(10*time.Microsecond), r.cpu)
	}
	fmt.Printf("\nscheduler CPU while idle: %v over %v before the fires (%.3f%%), %v over %v after (%.3f%%)\n",
		idleCPU, idleWin.Round(time.Second), 100*idleCPU.Seconds()/idleWin.Seconds(),
		c3-c2, idle, 100*(c3-c2).Seconds()/idle.Seconds())
	if spread.n != n || burstRes.n != n {
		return fmt.Errorf("expected %d fires per round, got %d and %d", n, spread.n, burstRes.n)
	}
	return nil
}
