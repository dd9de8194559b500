// Package wire holds what the TinyBase host and an extension plugin must
// agree on to find each other through hashicorp/go-plugin: the handshake,
// the plugin name and the gRPC glue. Both pkg/extension (the host) and
// pkg/sdk/extension (the plugin side) import it.
package wire

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	extv1 "github.com/tinybase/tinybase/proto/tinybase/extension/v1"
)

// PluginName is the single plugin every extension binary serves.
const PluginName = "extension"

// Handshake makes a binary that is not a TinyBase extension (or one built
// for another protocol version) refuse to start as one, instead of
// printing whatever it prints to the host.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "TINYBASE_EXTENSION_PLUGIN",
	MagicCookieValue: "d0b8c4f1-tinybase-extension-v1",
}

// MaxMessage bounds one gRPC message either way (default gRPC allows 4
// MiB to be received, less than a record may be).
const MaxMessage = 32 << 20

// Client is the host's view of a running extension: its gRPC client and
// the broker through which it serves the Host service.
type Client struct {
	Ext    extv1.ExtensionClient
	Broker *plugin.GRPCBroker
}

// Plugin is the go-plugin glue. The plugin side sets Impl; the host
// side leaves it nil and gets a *Client from Dispense.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Server is the extension's implementation (plugin side only). It is
	// given the broker so that it can dial the Host service.
	Impl func(*plugin.GRPCBroker) extv1.ExtensionServer
}

// GRPCServer registers the extension's service (plugin side).
func (p *Plugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("no extension server configured")
	}
	extv1.RegisterExtensionServer(s, p.Impl(b))
	return nil
}

// GRPCClient returns a *Client (host side).
func (p *Plugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &Client{Ext: extv1.NewExtensionClient(c), Broker: b}, nil
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)
