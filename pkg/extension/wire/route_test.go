package wire

import "testing"

func TestFindRoute(t *testing.T) {
	routes := [][2]string{{"POST", "/items"}, {"GET", "/items/*"}, {"head", "/items/special"}, {"GET", "/"}}
	at := func(i int) (string, string) { return routes[i][0], routes[i][1] }
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/items", 0},
		{"post", "/items", 0},
		{"GET", "/items", 1},
		{"GET", "/items/a/b", 1},
		{"GET", "/itemsx", -1},
		{"HEAD", "/items/special", 2}, // a HEAD route wins over GET
		{"HEAD", "/items/other", 1},   // else HEAD is served by GET
		{"HEAD", "/", 3},
		{"DELETE", "/items", -1},
		{"GET", "/nothing", -1},
	} {
		if got := FindRoute(len(routes), at, c.method, c.path); got != c.want {
			t.Errorf("FindRoute(%s %s) = %d, want %d", c.method, c.path, got, c.want)
		}
	}
}
