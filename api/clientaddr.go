package api

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ForwardedForHeader names the client and the proxies a request passed
// through, left to right; each proxy appends the address it heard from.
const ForwardedForHeader = "X-Forwarded-For"

// clientAddr is the client's IP address (the port dropped), for throttles
// and logs. A request from a peer outside TrustedProxies is the peer's:
// its X-Forwarded-For is whatever the client wrote. From a trusted proxy,
// the header is read right to left and the first hop outside the trusted
// prefixes is the client (an earlier hop could be forged by it); an
// unreadable hop ends the walk at the last trusted one.
func (c *HandlerConfig) clientAddr(r *http.Request) string {
	peer := peerAddr(r)
	if !c.trusted(peer) {
		return peer
	}
	hops := forwardedHops(r.Header.Values(ForwardedForHeader))
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(hops[i])
		if err != nil {
			return addr
		}
		addr = ip.Unmap().String()
		if !c.trusted(addr) {
			return addr
		}
	}
	return addr
}

// trusted reports whether addr is inside a trusted proxy prefix.
func (c *HandlerConfig) trusted(addr string) bool {
	if len(c.TrustedProxies) == 0 {
		return false
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range c.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// forwardedHops splits the X-Forwarded-For values (a proxy may add a
// header line or extend the last one) into trimmed hops.
func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// peerAddr is the direct peer's IP address, the port dropped.
func peerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().String()
	}
	return host
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes (a
// bare address is its own /32 or /128), e.g. "10.0.0.0/8,192.0.2.7".
// The error names the item.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if ip, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("api: trusted proxy %q is not a CIDR prefix or an IP address (e.g. 10.0.0.0/8)", item)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
