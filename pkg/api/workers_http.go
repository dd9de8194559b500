package api

import (
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"
)

// workerJSON is one live worker as the admin pool view shows it.
type workerJSON struct {
	ID          string `json:"id"`
	Host        string `json:"host"`
	PID         int    `json:"pid"`
	Version     string `json:"version"`
	StartedAt   string `json:"started_at"`
	Concurrency int    `json:"concurrency"`
	InFlight    int    `json:"in_flight"`
	LastSeen    string `json:"last_seen"`
}

// hostJSON groups the workers of one host.
type hostJSON struct {
	Host        string `json:"host"`
	Workers     int    `json:"workers"`
	Concurrency int    `json:"concurrency"`
	InFlight    int    `json:"in_flight"`
}

func (s *Server) workerRoutes(ad fiber.Router) {
	ad.Get("/workers", s.listWorkers)
}

// listWorkers answers the live pool: every worker heard from within the
// liveness window, and totals per host.
func (s *Server) listWorkers(c *fiber.Ctx) error {
	var seen []workerSeen
	if s.dispatch != nil && s.dispatch.workers != nil {
		seen = s.dispatch.workers.snapshot()
	}
	workers := make([]workerJSON, 0, len(seen))
	byHost := map[string]*hostJSON{}
	var total hostJSON
	for _, w := range seen {
		st := w.status
		workers = append(workers, workerJSON{ID: st.ID, Host: st.Host, PID: st.PID, Version: st.Version,
			StartedAt: st.StartedAt, Concurrency: st.Concurrency, InFlight: st.InFlight,
			LastSeen: w.at.UTC().Format(time.RFC3339Nano)})
		h := byHost[st.Host]
		if h == nil {
			h = &hostJSON{Host: st.Host}
			byHost[st.Host] = h
		}
		h.Workers++
		h.Concurrency += st.Concurrency
		h.InFlight += st.InFlight
		total.Workers++
		total.Concurrency += st.Concurrency
		total.InFlight += st.InFlight
	}
	hosts := make([]hostJSON, 0, len(byHost))
	for _, h := range byHost {
		hosts = append(hosts, *h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Host < hosts[j].Host })
	return c.JSON(fiber.Map{"workers": workers, "hosts": hosts, "total_workers": total.Workers,
		"total_concurrency": total.Concurrency, "total_in_flight": total.InFlight})
}
