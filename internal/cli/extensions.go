package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"
)

// ExtensionsCmd groups the extension commands. They talk to the running
// api over HTTP, authenticated like `functions deploy` (--token, or
// --email and --password, or their TINYBASE_API_* variables), because only
// the api opens the database and owns the extension processes.
type ExtensionsCmd struct {
	Install   ExtensionsInstallCmd   `cmd:"" help:"Install an extension from a built binary or a Go source folder."`
	List      ExtensionsListCmd      `cmd:"" help:"List installed extensions and their state."`
	Enable    ExtensionsEnableCmd    `cmd:"" help:"Enable an extension (starts it; no restart needed)."`
	Disable   ExtensionsDisableCmd   `cmd:"" help:"Disable an extension (stops it; no restart needed)."`
	Uninstall ExtensionsUninstallCmd `cmd:"" help:"Stop and remove an extension."`
}

// extensionInfo is the part of the api's extension JSON the CLI prints.
type extensionInfo struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description"`
	IsEnabled   bool   `json:"is_enabled"`
	Policy      string `json:"policy"`
	SHA256      string `json:"sha256"`
	Source      string `json:"source"`
	Status      struct {
		State     string `json:"state"`
		LastError string `json:"last_error"`
		PID       int    `json:"pid"`
		Restarts  int    `json:"restarts"`
	} `json:"status"`
	Hooks []string `json:"hooks"`
}

// installTimeout covers a `go build` of a source folder on the server.
const installTimeout = 6 * time.Minute

// ExtensionsInstallCmd installs an extension into the running instance.
type ExtensionsInstallCmd struct {
	RemoteFlags
	Path     string `arg:"" help:"Built extension binary or Go source folder (a path the server can read)."`
	Policy   string `help:"What a failing before-hook does: closed (refuse, default) or open (let through)." enum:",open,closed" default:""`
	Disabled bool   `help:"Install without starting it."`
}

// Run sends the absolute path to the api, which builds or copies,
// checksums and starts the extension.
//
// TODO(extensions): upload the binary (or source) so that an api on
// another host can install it; today the path must be readable by the api.
func (c *ExtensionsInstallCmd) Run(g *Globals) error {
	abs, err := filepath.Abs(c.Path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%s: %w", c.Path, err)
	}
	ctx, cancel := signalContext()
	defer cancel()
	r, err := c.connect(ctx, g, installTimeout)
	if err != nil {
		return err
	}
	body := map[string]any{"path": abs}
	if c.Policy != "" {
		body["policy"] = c.Policy
	}
	if c.Disabled {
		body["is_enabled"] = false
	}
	var info extensionInfo
	if err := r.client.Post(ctx, "admin/extensions", body, &info); err != nil {
		return r.explain("install", err)
	}
	printExtensions(os.Stdout, []extensionInfo{info})
	if info.Status.LastError != "" && info.Status.State != "running" {
		return fmt.Errorf("installed, but not running: %s", info.Status.LastError)
	}
	return nil
}

// ExtensionsListCmd lists the installed extensions.
type ExtensionsListCmd struct {
	RemoteFlags
	JSON bool `help:"Print JSON."`
}

// Run prints the list.
func (c *ExtensionsListCmd) Run(g *Globals) error {
	ctx, cancel := signalContext()
	defer cancel()
	r, err := c.connect(ctx, g, defaultTimeout)
	if err != nil {
		return err
	}
	var page struct {
		Extensions []json.RawMessage `json:"extensions"`
	}
	if err := r.client.Get(ctx, "admin/extensions", url.Values{"limit": {"1000"}}, &page); err != nil {
		return r.explain("list", err)
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(page.Extensions)
	}
	list := make([]extensionInfo, 0, len(page.Extensions))
	for _, raw := range page.Extensions {
		var in extensionInfo
		if err := json.Unmarshal(raw, &in); err != nil {
			return err
		}
		list = append(list, in)
	}
	printExtensions(os.Stdout, list)
	return nil
}

// ExtensionsEnableCmd enables an extension.
type ExtensionsEnableCmd struct {
	RemoteFlags
	Name string `arg:"" help:"Extension name."`
}

// Run enables it.
func (c *ExtensionsEnableCmd) Run(g *Globals) error {
	return setEnabled(g, &c.RemoteFlags, c.Name, true)
}

// ExtensionsDisableCmd disables an extension.
type ExtensionsDisableCmd struct {
	RemoteFlags
	Name string `arg:"" help:"Extension name."`
}

// Run disables it.
func (c *ExtensionsDisableCmd) Run(g *Globals) error {
	return setEnabled(g, &c.RemoteFlags, c.Name, false)
}

func setEnabled(g *Globals, f *RemoteFlags, name string, on bool) error {
	ctx, cancel := signalContext()
	defer cancel()
	r, err := f.connect(ctx, g, defaultTimeout)
	if err != nil {
		return err
	}
	var info extensionInfo
	if err := r.client.Patch(ctx, "admin/extensions/"+url.PathEscape(name), map[string]bool{"is_enabled": on},
		&info); err != nil {
		return r.explain("update", err)
	}
	printExtensions(os.Stdout, []extensionInfo{info})
	return enableOutcome(info, on)
}

// enableOutcome fails an enable whose extension did not start (refused
// for a changed binary, failing to start, extensions turned off), so that
// scripts see it in the exit status.
func enableOutcome(info extensionInfo, on bool) error {
	if !on || info.Status.State == "running" || info.Status.LastError == "" {
		return nil
	}
	return fmt.Errorf("enabled %s, but it is not running (%s): %s", info.Name, info.Status.State,
		info.Status.LastError)
}

// ExtensionsUninstallCmd removes an extension.
type ExtensionsUninstallCmd struct {
	RemoteFlags
	Name string `arg:"" help:"Extension name."`
}

// Run uninstalls it.
func (c *ExtensionsUninstallCmd) Run(g *Globals) error {
	ctx, cancel := signalContext()
	defer cancel()
	r, err := c.connect(ctx, g, defaultTimeout)
	if err != nil {
		return err
	}
	if err := r.client.Delete(ctx, "admin/extensions/"+url.PathEscape(c.Name), nil); err != nil {
		return r.explain("uninstall", err)
	}
	fmt.Printf("uninstalled %s\n", c.Name)
	return nil
}

func printExtensions(out io.Writer, list []extensionInfo) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tENABLED\tSTATE\tPOLICY\tRESTARTS\tSHA256\tERROR")
	for _, in := range list {
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\t%d\t%s\t%s\n", in.Name, in.Version, in.IsEnabled, in.Status.State,
			in.Policy, in.Status.Restarts, short(in.SHA256, 12), orDash(in.Status.LastError))
	}
	tw.Flush()
}
