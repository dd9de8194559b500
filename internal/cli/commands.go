package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/tinybase/tinybase/pkg/bus"
	"github.com/tinybase/tinybase/pkg/project"
	"github.com/tinybase/tinybase/pkg/version"
)

// InitCmd creates a project.
type InitCmd struct {
	AdminEmail    string `name:"admin-email" help:"Email of the admin account to create." env:"TINYBASE_ADMIN_EMAIL"`
	AdminPassword string `name:"admin-password" help:"Password of the admin account." env:"TINYBASE_ADMIN_PASSWORD"`
	Force         bool   `help:"Complete or refresh an initialised folder; never deletes data."`
}

// Run initialises the project folder.
func (c *InitCmd) Run(g *Globals) error {
	err := project.Init(context.Background(), project.InitOptions{Dir: g.Dir, AdminEmail: c.AdminEmail,
		AdminPassword: c.AdminPassword, Force: c.Force, Out: os.Stdout})
	if err != nil {
		return err
	}
	fmt.Println("done: start it with `tinybase serve`")
	return nil
}

// StatusCmd lists the live roles.
type StatusCmd struct {
	BusFlags
	JSON bool          `help:"Print JSON."`
	Wait time.Duration `help:"How long to collect answers." default:"700ms"`
}

// Run queries the bus for live roles.
func (c *StatusCmd) Run(g *Globals) error {
	cfg, err := load(g, nil)
	if err != nil {
		return err
	}
	c.apply(cfg)
	if err := needBusCredentials(cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second+c.Wait)
	defer cancel()
	user, pass := cfg.BusCredentials()
	conn, err := bus.Connect(ctx, bus.ConnectOptions{URL: cfg.BusURL(), User: user, Password: pass,
		Name: "tinybase-status", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return fmt.Errorf("%w (is tinybase serve running?)", err)
	}
	defer conn.Close()
	roles, err := bus.CollectStatus(ctx, conn.NC, c.Wait)
	if err != nil {
		return err
	}
	if roles == nil {
		roles = []bus.RoleStatus{}
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"bus": cfg.BusURL(), "roles": roles})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tID\tHOST\tPID\tCONCURRENCY\tIN-FLIGHT\tSTARTED")
	for _, r := range roles {
		conc := "-"
		if r.Concurrency > 0 {
			conc = fmt.Sprint(r.Concurrency)
		}
		id := r.ID
		if r.Leader != nil && *r.Leader {
			id += " (leader)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", r.Role, id, r.Host, r.PID, conc, r.InFlight, r.StartedAt)
	}
	return tw.Flush()
}

// ConfigCmd groups configuration commands.
type ConfigCmd struct {
	Check ConfigCheckCmd `cmd:"" help:"Validate the configuration and print the effective values (secrets masked)."`
}

// ConfigCheckCmd validates and prints the configuration.
type ConfigCheckCmd struct{}

// Run prints the effective configuration.
func (c *ConfigCheckCmd) Run(g *Globals) error {
	cfg, err := load(g, nil)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(os.Stderr, "warning: "+w)
	}
	out, err := cfg.Effective()
	if err != nil {
		return err
	}
	src := cfg.File
	if src == "" {
		src = "(no tinybase.toml; defaults and environment)"
	}
	fmt.Printf("# effective configuration from %s\n", src)
	if cfg.Secrets.Present() {
		fmt.Println("# secrets: loaded from .tinybase/secrets.json")
	} else {
		fmt.Println("# secrets: missing (run tinybase init)")
	}
	fmt.Print(out)
	return nil
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (c *VersionCmd) Run() error {
	fmt.Println("tinybase", version.Version)
	return nil
}
