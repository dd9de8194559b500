package sdk

import (
	"embed"
	"io/fs"
	"strings"
)

// sourceFiles is this package's own code, so the CLI can copy the SDK into
// a Go function's folder: the function then builds as a module of its own,
// without fetching anything.
//
//go:embed *.go
var sourceFiles embed.FS

// Source returns the SDK's Go files by name, without tests and without
// this file, which only matters inside TinyBase.
func Source() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.ReadDir(sourceFiles, ".")
	for _, e := range entries {
		name := e.Name()
		if name == "source.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := sourceFiles.ReadFile(name)
		if err != nil {
			panic("sdk: embedded source " + name + ": " + err.Error())
		}
		out[name] = data
	}
	return out
}
