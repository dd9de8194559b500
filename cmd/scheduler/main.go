// Command scheduler runs the TinyBase scheduler role alone, for deployments that
// start each role separately (Procfile, systemd, Kubernetes).
package main

import (
	"github.com/alecthomas/kong"

	"github.com/tinybase/tinybase/internal/cli"
)

type root struct {
	cli.Globals
	cli.SchedulerCmd
}

func main() {
	var r root
	ctx := kong.Parse(&r, kong.Name("tinybase-scheduler"), kong.UsageOnError())
	if err := r.SchedulerCmd.Run(&r.Globals); err != nil {
		cli.Fail(err)
	}
	_ = ctx
}
