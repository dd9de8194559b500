// Command api runs the TinyBase api role alone, for deployments that
// start each role separately (Procfile, systemd, Kubernetes).
package main

import (
	"github.com/alecthomas/kong"

	"github.com/tinybase/tinybase/internal/cli"
)

type root struct {
	cli.Globals
	cli.APICmd
}

func main() {
	var r root
	ctx := kong.Parse(&r, kong.Name("tinybase-api"), kong.UsageOnError())
	if err := r.APICmd.Run(&r.Globals); err != nil {
		cli.Fail(err)
	}
	_ = ctx
}
