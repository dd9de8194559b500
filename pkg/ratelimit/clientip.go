package ratelimit

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proxies is the set of reverse proxies whose X-Forwarded-For header is
// believed. Without it the client address is the connection's peer, which
// behind a proxy is the proxy itself, so every client would share one
// limit.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads addresses and CIDR ranges ("10.0.0.1", "10.0.0.0/8").
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(s); err == nil {
			p.prefixes = append(p.prefixes, pfx.Masked())
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return Proxies{}, fmt.Errorf("trusted proxy %q: not an address or CIDR range", s)
		}
		p.prefixes = append(p.prefixes, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
	}
	return p, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address to key limits on: peer itself, unless peer
// is a trusted proxy, in which case the right-most address of
// forwardedFor that is not a trusted proxy. Addresses a client put at the
// left of the header are never believed, since it can write anything there.
func (p Proxies) ClientIP(peer, forwardedFor string) string {
	addr, err := netip.ParseAddr(peer)
	if err != nil || len(p.prefixes) == 0 || !p.trusted(addr) || forwardedFor == "" {
		return peer
	}
	hops := strings.Split(forwardedFor, ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		if !p.trusted(h) {
			return h.Unmap().String()
		}
	}
	return peer
}
