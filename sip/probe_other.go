//go:build !linux

package sip

import (
	"net"
	"net/netip"
)

// routeProbe asks the kernel which source address it picks toward a
// peer: connecting a UDP socket sends nothing but fixes its local
// address (probe_linux.go keeps its sockets in the server's namespace).
type routeProbe struct{}

func newRouteProbe() *routeProbe { return &routeProbe{} }

func (*routeProbe) route(peer netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 9)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer func() { _ = c.Close() }() // a socket that sent nothing has nothing to report
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

func (*routeProbe) close() {}
