// Command worker runs the TinyBase worker role alone, for deployments that
// start each role separately (Procfile, systemd, Kubernetes).
package main

import (
	"github.com/alecthomas/kong"

	"github.com/tinybase/tinybase/internal/cli"
)

type root struct {
	cli.Globals
	cli.WorkerCmd
}

func main() {
	var r root
	ctx := kong.Parse(&r, kong.Name("tinybase-worker"), kong.UsageOnError())
	if err := r.WorkerCmd.Run(&r.Globals); err != nil {
		cli.Fail(err)
	}
	_ = ctx
}
