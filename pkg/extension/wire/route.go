package wire

import "strings"

// FindRoute picks the route serving method and path among n routes, given
// each one's method and path pattern by at: the first declared for method,
// else, for HEAD, the first GET route. It returns the route's index, or
// -1 when none serves the request. Host and plugin both use it, so they
// agree on which route answers.
func FindRoute(n int, at func(i int) (method, pattern string), method, path string) int {
	for i := range n {
		if m, p := at(i); strings.EqualFold(m, method) && MatchPath(p, path) {
			return i
		}
	}
	if strings.EqualFold(method, "HEAD") {
		for i := range n {
			if m, p := at(i); strings.EqualFold(m, "GET") && MatchPath(p, path) {
				return i
			}
		}
	}
	return -1
}

// MatchPath reports whether a route path pattern serves path: equal, or,
// for a pattern ending in "/*", the prefix itself or anything below it.
// Paths are compared as given: the one TinyBase sends is already
// percent-decoded and never decoded again.
func MatchPath(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/*"); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return pattern == path
}
