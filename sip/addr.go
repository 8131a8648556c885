package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// This file owns one question: which address of ours does a message name
// toward a peer (Via sent-by, Record-Route, our Contact)? A phone on
// another host sends its ACK, BYE and re-INVITE to what we named, so the
// answer must be an address that peer can reach:
//
//   - Config.Advertise set (a 1:1 NAT, a load balancer): always it.
//   - bound to a specific address: that address.
//   - bound to 0.0.0.0 or ::: the local address the peer talks to — for
//     TCP and TLS the connection's own local address, for UDP the
//     source address the kernel picks on its route toward the peer (a
//     connected UDP socket's LocalAddr; no packet is sent), cached per
//     peer for routeTTL so that the call path pays no syscall per
//     message. A loopback address is named only to a peer on loopback.

// routeTTL is how long a route lookup toward one peer is reused. Short,
// so that a changed route or a new interface address is seen within
// seconds; long enough that a call's messages share one lookup.
const routeTTL = 5 * time.Second

// routeCacheMax bounds the route cache; above it expired entries are
// swept (a node sees a few thousand phones, not millions).
const routeCacheMax = 4096

// AdvertiseError says why Config.Advertise cannot be used; the node does
// not start with it.
type AdvertiseError struct {
	Advertise string
	Reason    string
}

func (e *AdvertiseError) Error() string {
	return fmt.Sprintf("sip: advertise address %q: %s", e.Advertise, e.Reason)
}

// ParseAdvertise splits an advertise address HOST[:PORT] (an IPv6
// literal with a port in brackets, without one bare or bracketed) into
// its host (unbracketed) and port (0 when not given). It checks syntax
// only; CheckAdvertise also checks the family against the listen address.
func ParseAdvertise(adv string) (host string, port int, err error) {
	bad := func(reason string) (string, int, error) {
		return "", 0, &AdvertiseError{Advertise: adv, Reason: reason}
	}
	if adv == "" {
		return bad("empty")
	}
	host = adv
	if _, err := netip.ParseAddr(strings.Trim(adv, "[]")); err == nil && strings.HasPrefix(adv, "[") == strings.HasSuffix(adv, "]") {
		host = strings.Trim(adv, "[]") // an address without port (IPv6 bare or bracketed)
	} else if h, p, err := net.SplitHostPort(adv); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("port " + strconv.Quote(p) + " is not a number from 1 to 65535")
		}
		host, port = h, n
	} else if strings.Contains(adv, ":") {
		return bad("give HOST or HOST:PORT, an IPv6 address with a port in brackets: [2001:db8::1]:5060")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.IsUnspecified() || a.IsMulticast() {
			return bad("a wildcard or multicast address cannot be reached")
		}
		if a.Zone() != "" {
			return bad("an IPv6 zone (%...) cannot be written into SIP URIs")
		}
		return a.String(), port, nil
	}
	if !validHostname(host) {
		return bad("not an IP address or host name")
	}
	return host, port, nil
}

// validHostname reports whether h is a DNS name: dot-separated labels of
// letters, digits and hyphens, not starting or ending with a hyphen.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	// All-numeric names are mistyped IPv4 addresses (1.2.3 or 300.1.1.1).
	return strings.Trim(h, "0123456789.") != ""
}

// CheckAdvertise parses adv (ParseAdvertise) and, when its host is an
// address literal, checks that it is of the family the listen address
// addr serves. A host name is checked when the server starts (resolve).
func CheckAdvertise(adv, addr string) error {
	host, _, err := ParseAdvertise(adv)
	if err != nil {
		return err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return checkFamily(adv, addr, []netip.Addr{a})
	}
	return nil
}

// listenFamily is 4 or 6 for an address literal in addr's host (0.0.0.0
// is IPv4, :: IPv6), 0 when the host is empty or a name.
func listenFamily(addr string) int {
	h, _, _ := net.SplitHostPort(addr)
	a, err := netip.ParseAddr(h)
	switch {
	case err != nil:
		return 0
	case a.Is4() || a.Is4In6():
		return 4
	}
	return 6
}

// checkFamily fails unless one of as is of addr's family.
func checkFamily(adv, addr string, as []netip.Addr) error {
	fam := listenFamily(addr)
	if fam == 0 {
		return nil
	}
	for _, a := range as {
		if (a.Unmap().Is4()) == (fam == 4) {
			return nil
		}
	}
	other := map[int]string{4: "IPv4", 6: "IPv6"}
	return &AdvertiseError{Advertise: adv, Reason: fmt.Sprintf("no %s address, but the SIP socket %s is %s",
		other[fam], addr, other[fam])}
}

// ResolveAdvertise checks what CheckAdvertise checks and that an
// advertised host name resolves to an address of the listen address
// addr's family. An empty adv is fine (no advertise address).
func ResolveAdvertise(ctx context.Context, adv, addr string) error {
	if adv == "" {
		return nil
	}
	host, _, err := ParseAdvertise(adv)
	if err != nil {
		return err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return CheckAdvertise(adv, addr)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(as) == 0 {
		return &AdvertiseError{Advertise: adv, Reason: "host name does not resolve: " + strings.TrimPrefix(fmt.Sprint(err), "lookup ")}
	}
	return checkFamily(adv, addr, as)
}

// addrs answers which address of ours to name toward a peer, and which
// addresses and ports are ours (Route recognition). Safe for concurrent
// use.
type addrs struct {
	advHost string     // Advertise's host; "" without Advertise
	advPort int        // Advertise's port; 0 when it gave none
	bound   netip.Addr // the UDP and TCP listen address; unspecified when a wildcard
	// boundHost is bound as a string; "" for a wildcard.
	boundHost string
	port      int        // the bound UDP and TCP port
	tlsBound  netip.Addr // the TLS listen address (may differ from bound)
	tlsPort   int        // the TLS port; 0 without TLS

	// route returns the source address the kernel would use toward a
	// peer (routeProbe.route); locals lists the host's interface
	// addresses (fallback). Replaced in tests.
	route  func(peer netip.Addr) (netip.Addr, error)
	locals func() ([]netip.Addr, error)
	now    func() time.Time

	mu          sync.Mutex
	routes      map[netip.Addr]routeEntry
	local       []netip.Addr
	localExpiry time.Time
}

type routeEntry struct {
	src    netip.Addr
	expiry time.Time
}

// newAddrs makes the address book of a server whose UDP socket is bound
// to bound (unspecified for a wildcard) and port, with advertise (may be
// empty; checked by Config.validate), tlsPort (0 without TLS) and route
// (routeProbe.route).
func newAddrs(bound netip.Addr, advertise string, port, tlsPort int, route func(netip.Addr) (netip.Addr, error)) *addrs {
	a := &addrs{bound: bound.Unmap(), port: port, tlsPort: tlsPort, route: route, locals: interfaceAddrs,
		now: time.Now, routes: map[netip.Addr]routeEntry{}}
	if advertise != "" {
		a.advHost, a.advPort, _ = ParseAdvertise(advertise) // checked by Config.validate
	}
	if !a.wildcard() {
		a.boundHost = a.bound.String()
	}
	return a
}

// wildcard reports whether the server listens on every interface.
func (a *addrs) wildcard() bool { return !a.bound.IsValid() || a.bound.IsUnspecified() }

// fixed is the host named to every peer on transport: the advertise
// host, or the specific address its socket is bound to (TLS may listen
// on another one than UDP and TCP); "" when it depends on the peer.
func (a *addrs) fixed(transport string) string {
	b := a.bound
	if strings.EqualFold(transport, "TLS") && a.tlsPort != 0 {
		b = a.tlsBound
	}
	switch {
	case a.advHost != "":
		return a.advHost
	case b == a.bound && a.boundHost != "":
		return a.boundHost // the common case, without a string per message
	case b.IsValid() && !b.IsUnspecified():
		return b.String()
	}
	return ""
}

// portFor is the port we name for transport: TLS its own port, else the
// advertised port or the bound one.
func (a *addrs) portFor(transport string) int {
	switch {
	case strings.EqualFold(transport, "TLS") && a.tlsPort != 0:
		return a.tlsPort
	case a.advPort != 0:
		return a.advPort
	}
	return a.port
}

// toward is the host (unbracketed) to name toward peer (an IP address or
// host:port) on transport; local is the local address of the connection
// to it when one is known (TCP, TLS), else invalid.
func (a *addrs) toward(transport, peer string, local netip.Addr) string {
	if h := a.fixed(transport); h != "" {
		return h
	}
	p := peerIP(peer)
	if local.IsValid() && !local.IsUnspecified() && (!local.IsLoopback() || p.IsLoopback()) {
		return local.Unmap().WithZone("").String()
	}
	if p.IsValid() {
		if src, ok := a.routed(p); ok {
			return src.WithZone("").String()
		}
	}
	return a.fallback(p).String()
}

// peerIP parses the address of peer ("IP", "IP:PORT", "[IPv6]:PORT");
// invalid for a host name.
func peerIP(peer string) netip.Addr {
	h := peer
	if hh, _, err := net.SplitHostPort(peer); err == nil {
		h = hh
	}
	ip, err := netip.ParseAddr(strings.Trim(h, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// routed is the cached kernel route choice toward p; false when there is
// no route, or it names loopback for a peer that is not on loopback.
func (a *addrs) routed(p netip.Addr) (netip.Addr, bool) {
	now := a.now()
	a.mu.Lock()
	e, ok := a.routes[p]
	a.mu.Unlock()
	if !ok || now.After(e.expiry) {
		src, err := a.route(p)
		if err != nil {
			src = netip.Addr{}
		}
		e = routeEntry{src: src.Unmap(), expiry: now.Add(routeTTL)}
		a.mu.Lock()
		if len(a.routes) >= routeCacheMax {
			a.sweep(now)
		}
		a.routes[p] = e
		a.mu.Unlock()
	}
	if !e.src.IsValid() || e.src.IsUnspecified() || (e.src.IsLoopback() && !p.IsLoopback()) {
		return netip.Addr{}, false
	}
	return e.src, true
}

// sweep drops expired route entries, or all when none has expired; a.mu
// is held.
func (a *addrs) sweep(now time.Time) {
	n := len(a.routes)
	for k, e := range a.routes {
		if now.After(e.expiry) {
			delete(a.routes, k)
		}
	}
	if len(a.routes) == n {
		clear(a.routes)
	}
}

// fallback is named when no route says better (a host name, no route):
// the first interface address of the peer's family (IPv4 when unknown)
// that is not loopback, link-local or of the other family — loopback
// only when nothing else exists or the peer is on loopback.
func (a *addrs) fallback(p netip.Addr) netip.Addr {
	want4 := !p.IsValid() || p.Is4()
	loop := netip.MustParseAddr("127.0.0.1")
	if !want4 {
		loop = netip.IPv6Loopback()
	}
	if p.IsLoopback() {
		return loop
	}
	for _, l := range a.localAddrs() {
		if l.Is4() == want4 && !l.IsLoopback() && !l.IsLinkLocalUnicast() {
			return l
		}
	}
	return loop
}

// localAddrs is the host's interface addresses, read at most every
// routeTTL.
func (a *addrs) localAddrs() []netip.Addr {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.local == nil || now.After(a.localExpiry) {
		l, err := a.locals()
		if err != nil {
			l = nil
		}
		a.local, a.localExpiry = append(l[:0:0], l...), now.Add(routeTTL)
	}
	return a.local
}

// ourPort reports whether port is one of ours: the bound one, the TLS
// one, the advertised one.
func (a *addrs) ourPort(port int) bool {
	return port == a.port || (a.tlsPort != 0 && port == a.tlsPort) || (a.advPort != 0 && port == a.advPort)
}

// ourHost reports whether host names this server: the advertise host,
// the bound address, or with a wildcard bind any local address.
func (a *addrs) ourHost(host string) bool {
	host = strings.Trim(host, "[]")
	if a.advHost != "" && strings.EqualFold(host, a.advHost) {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	if ip.WithZone("") == a.bound || (a.tlsPort != 0 && ip.WithZone("") == a.tlsBound) {
		return true
	}
	if !a.wildcard() && (a.tlsPort == 0 || !a.tlsBound.IsUnspecified()) {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	// The kernel picks a local address itself as the source toward it
	// (RFC 6724 rule 1 for IPv6): asking the route (cached) avoids
	// listing interfaces per message.
	src, ok := a.routed(ip)
	return ok && src == ip.WithZone("")
}

// interfaceAddrs lists the addresses of the host's interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// nameToward is the host (unbracketed) this server names toward peer
// (host:port) on transport: for TCP and TLS the local address of the
// connection to peer when one is open, else addrs.toward's choice.
func (s *Server) nameToward(transport, peer string) string {
	var local netip.Addr
	if s.addrs.fixed(transport) == "" && reliable(transport) {
		local = s.connLocal(transport, peer)
	}
	return s.addrs.toward(transport, peer, local)
}

// connLocal is the local address of the open transport connection to
// peer, invalid when there is none.
func (s *Server) connLocal(transport, peer string) netip.Addr {
	conn, err := s.ua.TransportLayer().GetConnection(transport, peer)
	if err != nil || conn == nil {
		return netip.Addr{}
	}
	defer conn.Ref(-1) // GetConnection took a reference
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// uriHostPort is host:port of our URI toward peer on transport, IPv6
// bracketed: what Record-Route and Contact name.
func (s *Server) uriHostPort(transport, peer string) string {
	return net.JoinHostPort(s.nameToward(transport, peer), strconv.Itoa(s.addrs.portFor(transport)))
}

// addVia is the client request option every request we send goes out
// with (in place of sipgo.ClientRequestAddVia, which names one fixed
// host): our Via names the address the request leaves from toward its
// destination, with rport (RFC 3581). Like sipgo's, it fills received
// and rport into the top Via of a forwarded request that asked for them.
func (s *Server) addVia(_ *sipgo.Client, r *sip.Request) error {
	if via := r.Via(); via != nil && via.Params.Has("rport") {
		if h, p, err := net.SplitHostPort(r.Source()); err == nil {
			via.Params.Add("rport", p)
			via.Params.Add("received", h)
		}
	}
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: r.Transport(),
		Host: s.nameToward(r.Transport(), r.Destination()), Port: s.addrs.portFor(r.Transport()), Params: sip.NewParams()}
	v.Params.Add("branch", sip.GenerateBranchN(16))
	v.Params.Add("rport", "")
	r.PrependHeader(v)
	return nil
}
