// Package version holds the TinyBase release version.
package version

// Version is the release version, overridden at link time with
// -ldflags "-X github.com/tinybase/tinybase/pkg/version.Version=...".
var Version = "0.1.0-dev"
