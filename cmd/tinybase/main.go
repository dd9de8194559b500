// Command tinybase is the TinyBase command line: it initialises projects,
// runs the whole deployment (serve) or any single role.
package main

import (
	"github.com/alecthomas/kong"

	"github.com/tinybase/tinybase/internal/cli"
)

type root struct {
	cli.Globals

	Init       cli.InitCmd       `cmd:"" help:"Create a TinyBase project in the folder."`
	Serve      cli.ServeCmd      `cmd:"" help:"Run bus, api, scheduler and workers under a supervisor."`
	API        cli.APICmd        `cmd:"" name:"api" help:"Run the api role alone."`
	Scheduler  cli.SchedulerCmd  `cmd:"" help:"Run a scheduler alone."`
	Worker     cli.WorkerCmd     `cmd:"" help:"Run a worker alone (any host that reaches the bus)."`
	Bus        cli.BusCmd        `cmd:"" help:"Run the embedded bus alone."`
	Status     cli.StatusCmd     `cmd:"" help:"List the live roles and workers."`
	Functions  cli.FunctionsCmd  `cmd:"" help:"Create, build, list, call and deploy functions."`
	Extensions cli.ExtensionsCmd `cmd:"" help:"Install, list, enable, disable and uninstall extensions."`
	Config     cli.ConfigCmd     `cmd:"" help:"Configuration commands."`
	OpenAPI    cli.OpenAPICmd    `cmd:"" name:"openapi" help:"Export the OpenAPI document of the REST API."`
	Version    cli.VersionCmd    `cmd:"" help:"Print the version."`
}

func main() {
	var r root
	ctx := kong.Parse(&r, kong.Name("tinybase"),
		kong.Description("TinyBase: a self-hosted backend-as-a-service."),
		kong.UsageOnError())
	if err := ctx.Run(&r.Globals); err != nil {
		cli.Fail(err)
	}
}
