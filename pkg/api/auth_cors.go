package api

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2/middleware/cors"
)

// corsConfig builds the CORS settings from cors.allow_origins. A wildcard
// anywhere in the list means any origin, and then credentials are never
// allowed: Access-Control-Allow-Credentials with a wildcard would let any
// site act as a signed-in user. An explicit list allows credentials for
// exactly those origins.
func corsConfig(origins []string) cors.Config {
	var list []string
	for _, o := range origins {
		if o = strings.TrimSpace(o); o != "" {
			list = append(list, strings.TrimRight(o, "/"))
		}
	}
	if len(list) == 0 || slices.Contains(list, "*") {
		return cors.Config{AllowOrigins: "*", AllowCredentials: false}
	}
	return cors.Config{AllowOrigins: strings.Join(list, ","), AllowCredentials: true}
}
