// Package admin embeds the built admin UI so the binary serves it without
// any files on disk.
package admin

import (
	"embed"
	"io/fs"
)

// all: keeps bundler chunks whose names start with an underscore
// (plain go:embed would silently leave them out).
//
//go:embed all:dist
var dist embed.FS

// Files returns the built admin UI, rooted at its index.html.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder exists
	}
	return sub
}
