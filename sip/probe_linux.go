package sip

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"
)

// routeProbe asks the kernel which source address it picks toward a peer,
// with two unbound UDP sockets (IPv4, IPv6) opened when the server
// starts: connecting a UDP socket sends nothing but fixes its local
// address. The sockets belong to the network namespace the server
// started in, so the answer is that namespace's whatever thread asks
// (a socket opened per lookup would take the asking thread's). Safe for
// concurrent use.
type routeProbe struct {
	mu       sync.Mutex
	fd4, fd6 int // -1 when the family is not available
}

func newRouteProbe() *routeProbe {
	p := &routeProbe{fd4: -1, fd6: -1}
	if fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0); err == nil {
		p.fd4 = fd
	}
	if fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0); err == nil {
		p.fd6 = fd
	}
	return p
}

// route is the source address the kernel would use toward peer.
func (p *routeProbe) route(peer netip.Addr) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd, sa := p.fd6, syscall.Sockaddr(nil)
	if peer.Is4() {
		fd, sa = p.fd4, &syscall.SockaddrInet4{Port: 9, Addr: peer.As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: 9, Addr: peer.As16(), ZoneId: zoneIndex(peer.Zone())}
	}
	if fd < 0 {
		return netip.Addr{}, errors.New("sip: route probe: address family not available")
	}
	// A connected UDP socket keeps the source address of its first
	// connect: dissolve the last association first (AF_UNSPEC, which
	// package syscall cannot express).
	var unspec syscall.RawSockaddr
	_, _, _ = syscall.Syscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&unspec)), unsafe.Sizeof(unspec)) // fails only when not connected
	if err := syscall.Connect(fd, sa); err != nil {
		return netip.Addr{}, err
	}
	la, err := syscall.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, err
	}
	switch a := la.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), nil
	case *syscall.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), nil
	}
	return netip.Addr{}, errors.New("sip: route probe: unexpected local address")
}

// close closes the sockets; errors on sockets that sent nothing carry no
// information.
func (p *routeProbe) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, fd := range []*int{&p.fd4, &p.fd6} {
		if *fd >= 0 {
			_ = syscall.Close(*fd)
			*fd = -1
		}
	}
}

func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifc, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifc.Index)
	}
	return 0
}
