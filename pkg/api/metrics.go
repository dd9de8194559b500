package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/tinybase/tinybase/pkg/store"
)

func (s *Server) metricsRoutes(ad fiber.Router) {
	ad.Get("/functions/metrics", s.functionMetrics)
	ad.Get("/metrics", s.instanceMetrics)
}

func (s *Server) functionMetrics(c *fiber.Ctx) error {
	hours, err := intQuery(c, "hours", 24, 1, 720)
	if err != nil {
		return err
	}
	stats, err := s.metrics.Functions(c.UserContext(), time.Now().Add(-time.Duration(hours)*time.Hour))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"period_hours": hours, "functions": stats})
}

// instanceMetrics answers with figures computed now, over the last 24
// hours, rather than the Python TinyBase's periodic snapshots.
func (s *Server) instanceMetrics(c *fiber.Ctx) error {
	sizes, err := s.metrics.Collections(c.UserContext())
	if err != nil {
		return err
	}
	fn, err := s.metrics.Summary(c.UserContext(), time.Now().Add(-24*time.Hour))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"collection_sizes": sizes, "function_stats": fn, "collected_at": store.Now()})
}
