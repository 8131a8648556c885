package sip

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

func TestParseAdvertise_AcceptsHostsAndPortsRejectsTheRestWithReason(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
		err  string
	}{
		{"203.0.113.7", "203.0.113.7", 0, ""},
		{"203.0.113.7:5070", "203.0.113.7", 5070, ""},
		{"sip.example.com", "sip.example.com", 0, ""},
		{"sip.example.com:5080", "sip.example.com", 5080, ""},
		{"2001:db8::7", "2001:db8::7", 0, ""},
		{"[2001:db8::7]", "2001:db8::7", 0, ""},
		{"[2001:db8::7]:5070", "2001:db8::7", 5070, ""},
		{"", "", 0, "empty"},
		{"203.0.113.7:0", "", 0, "port"},
		{"203.0.113.7:99999", "", 0, "port"},
		{"203.0.113.7:sip", "", 0, "port"},
		{"[2001:db8::7", "", 0, "brackets"},
		{"2001:db8::7:5070:x", "", 0, "brackets"},
		{"0.0.0.0", "", 0, "wildcard"},
		{"[::]:5060", "", 0, "wildcard"},
		{"224.0.0.1", "", 0, "multicast"},
		{"fe80::1%eth0", "", 0, "zone"},
		{"bad host", "", 0, "not an IP address or host name"},
		{"-x.example.com", "", 0, "not an IP address or host name"},
		{"300.1.1.1", "", 0, "not an IP address or host name"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			host, port, err := ParseAdvertise(tc.in)
			if tc.err != "" {
				var ae *AdvertiseError
				if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want an AdvertiseError saying %q", err, tc.err)
				}
				return
			}
			if err != nil || host != tc.host || port != tc.port {
				t.Fatalf("= %q, %d, %v; want %q, %d", host, port, err, tc.host, tc.port)
			}
		})
	}
}

func TestCheckAdvertise_FamilyMustMatchTheSocket(t *testing.T) {
	tests := []struct {
		adv, addr string
		ok        bool
	}{
		{"203.0.113.7", "0.0.0.0:5060", true},
		{"2001:db8::7", "0.0.0.0:5060", false},
		{"[2001:db8::7]:5060", "192.0.2.2:5060", false},
		{"2001:db8::7", "[::]:5060", true},
		{"203.0.113.7", "[fd00::2]:5060", false},
		{"203.0.113.7", ":5060", true}, // every family
		{"2001:db8::7", ":5060", true},
		{"sip.example.com", "0.0.0.0:5060", true}, // resolved at start
	}
	for _, tc := range tests {
		t.Run(tc.adv+" on "+tc.addr, func(t *testing.T) {
			err := CheckAdvertise(tc.adv, tc.addr)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "but the SIP socket") {
				t.Fatalf("err %q does not say the family differs", err)
			}
		})
	}
}

func TestResolveAdvertise_UnresolvableHostAndFamilyOfItsAddresses(t *testing.T) {
	ctx := t.Context()
	if err := ResolveAdvertise(ctx, "", "0.0.0.0:5060"); err != nil {
		t.Fatalf("no advertise address: %v", err)
	}
	if err := ResolveAdvertise(ctx, "no-such-host.invalid", "0.0.0.0:5060"); err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Fatalf("unresolvable: %v", err)
	}
	if err := ResolveAdvertise(ctx, "localhost:5070", "0.0.0.0:5060"); err != nil {
		t.Fatalf("localhost on IPv4: %v", err)
	}
}

// fakeRoutes is a route table: the source address toward each peer, and
// how often it was asked.
type fakeRoutes struct {
	src   map[netip.Addr]netip.Addr
	asked int
}

func (f *fakeRoutes) route(p netip.Addr) (netip.Addr, error) {
	f.asked++
	if s, ok := f.src[p]; ok {
		return s, nil
	}
	return netip.Addr{}, errors.New("network unreachable")
}

var (
	ipLoop = netip.MustParseAddr("127.0.0.1")
	ipLAN1 = netip.MustParseAddr("10.1.0.1")
	ipLAN2 = netip.MustParseAddr("10.2.0.1")
	ipV6   = netip.MustParseAddr("fd00:2::1")
	peer1  = "10.1.0.50:5060"
	peer2  = "10.2.0.60:5062"
	peerV6 = "[fd00:2::60]:5060"
)

// testAddrs is an address book with the fake route table above: peers on
// LAN 1 are reached from 10.1.0.1, on LAN 2 from 10.2.0.1, loopback from
// 127.0.0.1, and fd00:2::/64 from fd00:2::1.
func testAddrs(bound, advertise string) (*addrs, *fakeRoutes, *time.Time) {
	f := &fakeRoutes{src: map[netip.Addr]netip.Addr{
		netip.MustParseAddr("10.1.0.50"):   ipLAN1,
		netip.MustParseAddr("10.2.0.60"):   ipLAN2,
		netip.MustParseAddr("127.0.0.1"):   ipLoop,
		netip.MustParseAddr("fd00:2::60"):  ipV6,
		ipLAN1:                             ipLAN1, // our own addresses: the kernel names themselves
		ipLAN2:                             ipLAN2,
		ipV6:                               ipV6,
		netip.MustParseAddr("192.0.2.200"): ipLoop, // a broken route naming loopback
	}}
	a := newAddrs(netip.MustParseAddr(bound), advertise, 5060, 5061, f.route)
	a.tlsBound = a.bound // --sips on the same address as --sip
	now := time.Unix(1000, 0)
	a.now = func() time.Time { return now }
	a.locals = func() ([]netip.Addr, error) {
		return []netip.Addr{ipLoop, netip.IPv6Loopback(), netip.MustParseAddr("fe80::1"), ipLAN1, ipLAN2, ipV6}, nil
	}
	return a, f, &now
}

func TestAddrs_NamesTheAddressEachPeerReaches(t *testing.T) {
	tests := []struct {
		name, transport, bound, advertise, peer string
		local                                   netip.Addr // the connection's local address (TCP, TLS)
		want                                    string
	}{
		{"specific bind names itself", "UDP", "10.1.0.1", "", peer2, netip.Addr{}, "10.1.0.1"},
		{"advertise wins over the bind", "UDP", "0.0.0.0", "203.0.113.7", peer1, netip.Addr{}, "203.0.113.7"},
		{"advertise host name", "UDP", "0.0.0.0", "sip.example.com:5070", peer1, netip.Addr{}, "sip.example.com"},
		{"wildcard, peer on LAN 1", "UDP", "0.0.0.0", "", peer1, netip.Addr{}, "10.1.0.1"},
		{"wildcard, peer on LAN 2", "UDP", "0.0.0.0", "", peer2, netip.Addr{}, "10.2.0.1"},
		{"wildcard, peer on loopback", "UDP", "0.0.0.0", "", "127.0.0.1:5099", netip.Addr{}, "127.0.0.1"},
		{"wildcard IPv6", "UDP", "::", "", peerV6, netip.Addr{}, "fd00:2::1"},
		{"wildcard, connection's local address", "TCP", "0.0.0.0", "", peer1, netip.MustParseAddr("10.2.0.1"), "10.2.0.1"},
		{"wildcard, v4-mapped connection address", "TCP", "::", "", peer1, netip.MustParseAddr("::ffff:10.1.0.1"), "10.1.0.1"},
		{"never loopback toward a peer off loopback", "UDP", "0.0.0.0", "", "192.0.2.200:5060", netip.Addr{}, "10.1.0.1"},
		{"never a loopback connection address off loopback", "TCP", "0.0.0.0", "", peer1, ipLoop, "10.1.0.1"},
		{"no route: an interface address, not loopback", "UDP", "0.0.0.0", "", "198.51.100.1:5060", netip.Addr{}, "10.1.0.1"},
		{"host name peer: an interface address", "UDP", "0.0.0.0", "", "phone.example.com:5060", netip.Addr{}, "10.1.0.1"},
		{"IPv6 host name peer on ::", "UDP", "::", "", "[fd00:9::9]:5060", netip.Addr{}, "fd00:2::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _ := testAddrs(tc.bound, tc.advertise)
			if got := a.toward(tc.transport, tc.peer, tc.local); got != tc.want {
				t.Fatalf("toward(%s) = %q, want %q", tc.peer, got, tc.want)
			}
		})
	}
}

func TestAddrs_TLSOnItsOwnAddress(t *testing.T) {
	a, _, _ := testAddrs("10.1.0.1", "")
	a.tlsBound = ipLAN2
	if got := a.toward("TLS", peer1, netip.Addr{}); got != "10.2.0.1" {
		t.Fatalf("TLS bound to 10.2.0.1 names %q", got)
	}
	if got := a.toward("UDP", peer1, netip.Addr{}); got != "10.1.0.1" {
		t.Fatalf("UDP bound to 10.1.0.1 names %q", got)
	}
	if !a.ourHost("10.2.0.1") || !a.ourHost("10.1.0.1") || a.ourHost("10.2.0.60") {
		t.Fatal("both bound addresses, and only they, are ours")
	}
	a.tlsBound = netip.IPv4Unspecified() // --sips 0.0.0.0:5061
	if got := a.toward("TLS", peer2, ipLAN2); got != "10.2.0.1" {
		t.Fatalf("TLS on a wildcard names %q, want the connection's 10.2.0.1", got)
	}
}

func TestAddrs_PortsAdvertisedBoundAndTLS(t *testing.T) {
	a, _, _ := testAddrs("0.0.0.0", "203.0.113.7")
	if a.portFor("UDP") != 5060 || a.portFor("TCP") != 5060 || a.portFor("TLS") != 5061 {
		t.Fatalf("without an advertised port: udp %d tcp %d tls %d, want the bound 5060 and TLS 5061", a.portFor("UDP"), a.portFor("TCP"), a.portFor("TLS"))
	}
	a, _, _ = testAddrs("0.0.0.0", "203.0.113.7:15060")
	if a.portFor("UDP") != 15060 || a.portFor("TLS") != 5061 {
		t.Fatalf("advertised port: udp %d tls %d, want 15060 and TLS its own 5061", a.portFor("UDP"), a.portFor("TLS"))
	}
	for _, p := range []int{5060, 5061, 15060} {
		if !a.ourPort(p) {
			t.Errorf("port %d not recognised as ours", p)
		}
	}
	if a.ourPort(5062) {
		t.Error("port 5062 taken for ours")
	}
}

func TestAddrs_RouteLookupsAreCachedForAShortTime(t *testing.T) {
	a, f, now := testAddrs("0.0.0.0", "")
	for range 100 {
		a.toward("UDP", peer1, netip.Addr{})
	}
	if f.asked != 1 {
		t.Fatalf("route asked %d times for one peer, want 1 (cached)", f.asked)
	}
	f.src[netip.MustParseAddr("10.1.0.50")] = ipLAN2 // the route changed
	*now = now.Add(routeTTL + time.Second)
	if got := a.toward("UDP", peer1, netip.Addr{}); got != "10.2.0.1" || f.asked != 2 {
		t.Fatalf("after the TTL: %q after %d lookups, want the new route 10.2.0.1 after 2", got, f.asked)
	}
}

func TestAddrs_RouteCacheStaysBounded(t *testing.T) {
	a, _, now := testAddrs("0.0.0.0", "")
	for i := range routeCacheMax + 10 {
		a.toward("UDP", netip.AddrFrom4([4]byte{10, 3, byte(i >> 8), byte(i)}).String(), netip.Addr{})
		if i == routeCacheMax/2 {
			*now = now.Add(routeTTL + time.Second)
		}
	}
	if n := len(a.routes); n > routeCacheMax {
		t.Fatalf("%d cached routes, want at most %d", n, routeCacheMax)
	}
}

func TestAddrs_RecognisesEveryAddressOfOurs(t *testing.T) {
	tests := []struct {
		name, bound, advertise, host string
		ours                         bool
	}{
		{"wildcard: an interface address", "0.0.0.0", "", "10.2.0.1", true},
		{"wildcard: loopback", "0.0.0.0", "", "127.0.0.1", true},
		{"wildcard: another host", "0.0.0.0", "", "10.2.0.60", false},
		{"wildcard: a name", "0.0.0.0", "", "example.com", false},
		{"wildcard: the advertised name", "0.0.0.0", "SIP.example.com", "sip.example.com", true},
		{"wildcard: the advertised address", "0.0.0.0", "203.0.113.7", "203.0.113.7", true},
		{"wildcard IPv6, bracketed", "::", "", "[fd00:2::1]", true},
		{"specific: itself", "10.1.0.1", "", "10.1.0.1", true},
		{"specific: another interface's address", "10.1.0.1", "", "10.2.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _ := testAddrs(tc.bound, tc.advertise)
			if got := a.ourHost(tc.host); got != tc.ours {
				t.Fatalf("ourHost(%q) = %v, want %v", tc.host, got, tc.ours)
			}
		})
	}
}

func TestServer_RouteAndContactBracketIPv6AndNameTheSide(t *testing.T) {
	a, _, _ := testAddrs("::", "")
	s := addrServer(t, a)
	if got, want := s.routeValue("", "UDP", peerV6), "<sip:[fd00:2::1]:5060;lr>"; got != want {
		t.Fatalf("Record-Route toward %s = %s, want %s", peerV6, got, want)
	}
	if got, want := s.contactHeader("UDP", peerV6).Value(), "<sip:[fd00:2::1]:5060>"; got != want {
		t.Fatalf("Contact toward %s = %s, want %s", peerV6, got, want)
	}
	a, _, _ = testAddrs("0.0.0.0", "[2001:db8::7]:5070")
	s = addrServer(t, a)
	if got, want := s.routeValue("", "UDP", peer1), "<sip:[2001:db8::7]:5070;lr>"; got != want {
		t.Fatalf("advertised IPv6 Record-Route = %s, want %s", got, want)
	}
}

func TestServer_DoubleRecordRouteWhenTheSidesDiffer(t *testing.T) {
	tests := []struct {
		name            string
		inPeer, inTp    string
		outPeer, outTp  string
		want            []string // Record-Route values, top first
		bound, advertis string
	}{
		{"one interface, one transport", peer1, "UDP", "10.1.0.51:5060", "UDP",
			[]string{"<sip:10.1.0.1:5060;lr>"}, "0.0.0.0", ""},
		{"two interfaces", peer1, "UDP", peer2, "UDP",
			[]string{"<sip:10.2.0.1:5060;lr>", "<sip:10.1.0.1:5060;lr>"}, "0.0.0.0", ""},
		{"two transports", peer1, "UDP", "10.1.0.51:5060", "TCP",
			[]string{"<sip:10.1.0.1:5060;lr;transport=tcp>", "<sip:10.1.0.1:5060;lr>"}, "0.0.0.0", ""},
		{"advertised: one", peer1, "UDP", peer2, "UDP",
			[]string{"<sip:203.0.113.7:5060;lr>"}, "0.0.0.0", "203.0.113.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _, _ := testAddrs(tc.bound, tc.advertis)
			s := addrServer(t, a)
			in := newTestRequest(tc.inTp, tc.inPeer)
			out := in.Clone()
			out.SetTransport(tc.outTp)
			out.SetDestination(tc.outPeer)
			if err := s.recordRoute(in)(nil, out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range out.GetHeaders("Record-Route") {
				got = append(got, h.Value())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("Record-Route %q, want %q", got, tc.want)
			}
		})
	}
}

// newTestRequest is an INVITE that arrived over transport from source.
func newTestRequest(transport, source string) *sip.Request {
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: "2001", Host: testDomain})
	req.SetTransport(transport)
	req.SetSource(source)
	return req
}

// addrServer is a Server with only an address book and a user agent
// (without connections): enough to name addresses.
func addrServer(t *testing.T, a *addrs) *Server {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return &Server{addrs: a, ua: ua}
}

// BenchmarkAddrsToward is the per-message cost of naming our address
// toward a peer on a wildcard bind: "cached" is the call path (one
// route lookup per peer per routeTTL), "probe" the kernel lookup itself.
func BenchmarkAddrsToward(b *testing.B) {
	p := newRouteProbe()
	defer p.close()
	a := newAddrs(netip.IPv6Unspecified(), "", 5060, 0, p.route)
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			a.toward("UDP", "127.0.0.1:5070", netip.Addr{})
		}
	})
	b.Run("probe", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.route(ipLoop); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Bound to the wildcard, the server names over TCP the local address of
// the connection (here 127.0.0.2, which the phone dialled), over UDP the
// route's source toward the phone (127.0.0.1).
func TestServer_WildcardNamesTheConnectionsLocalAddressOverTCP(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Addr = "0.0.0.0:0" })
	_, port, _ := net.SplitHostPort(e.srv.Addr())
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.2", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	me := conn.LocalAddr().String()
	opts := "OPTIONS sip:" + testDomain + " SIP/2.0\r\nVia: SIP/2.0/TCP " + me + ";branch=z9hG4bKaddr1\r\n" +
		"From: <sip:x@" + testDomain + ">;tag=1\r\nTo: <sip:" + testDomain + ">\r\nCall-ID: addr-tcp\r\n" +
		"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(opts)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // a missing answer fails the read below
	if res, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(res, "200") {
		t.Fatalf("OPTIONS over TCP: %q %v", res, err)
	}
	if got := e.srv.nameToward("TCP", me); got != "127.0.0.2" {
		t.Errorf("over TCP names %q, want the connection's local 127.0.0.2", got)
	}
	if got := e.srv.nameToward("UDP", me); got != "127.0.0.1" {
		t.Errorf("over UDP names %q, want the route's source 127.0.0.1", got)
	}
	if got := e.srv.routeValue("", "TCP", me); got != "<sip:127.0.0.2:"+port+";lr;transport=tcp>" {
		t.Errorf("Record-Route over TCP %s", got)
	}
}

// FuzzParseAdvertise: any --sip-advertise value is parsed without a panic
// and either refused with a reason or taken apart into a host and port
// that, put together again, parse to the same.
func FuzzParseAdvertise(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "203.0.113.7:5070", "[2001:db8::7]:5070", "2001:db8::7", "sip.example.com:5080", "[::]", "a:b:c", "[", "]:1", "x..y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		host, port, err := ParseAdvertise(in)
		if err != nil {
			var ae *AdvertiseError
			if !errors.As(err, &ae) || ae.Reason == "" {
				t.Fatalf("%q: error %v without a reason", in, err)
			}
			return
		}
		again := host
		if port != 0 {
			again = net.JoinHostPort(host, strconv.Itoa(port))
		}
		if h, p, err := ParseAdvertise(again); err != nil || h != host || p != port {
			t.Fatalf("%q → %q, %d → %q → %q, %d, %v", in, host, port, again, h, p, err)
		}
	})
}

// With an advertise address (a node behind a 1:1 NAT: the phones reach
// it at 203.0.113.7:15060, which the NAT maps to its real address), the
// forwarded INVITE names it in Via and Record-Route, and a BYE routed to
// it is taken as ours and relayed.
func TestServer_AdvertiseIsNamedAndRecognised(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Advertise = "203.0.113.7:15060" })
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice, bob := newPhone(t, e, "1001", "a-pw"), newPhone(t, e, "2001", "b-pw")
	if res := bob.register(300); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	c := alice.call("2001")
	ring := bob.waitRinging(5 * time.Second)
	if via := ring.req.Via(); via.Host != "203.0.113.7" || via.Port != 15060 {
		t.Errorf("top Via %s, want the advertised 203.0.113.7:15060", via.Value())
	}
	if got := recordRoutes(ring.req); len(got) != 1 || got[0] != "<sip:203.0.113.7:15060;lr>" {
		t.Errorf("Record-Route %q, want the advertised address once", got)
	}
	ring.answer <- 200
	c.wait(200, 5*time.Second)
	bye := sip.NewRequest(sip.BYE, ring.req.Contact().Address)
	bye.AppendHeader(sip.NewHeader("Route", "<sip:203.0.113.7:15060;lr>"))
	bye.AppendHeader(sip.NewHeader("From", ring.req.To().Value()+";tag="+ring.tag))
	bye.AppendHeader(sip.NewHeader("To", ring.req.From().Value()))
	bye.AppendHeader(sip.NewHeader("Call-ID", ring.req.CallID().Value()))
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.BYE})
	bob.toProxy(bye) // the NAT's job: what is sent to 203.0.113.7:15060 reaches the node
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if res, err := bob.cli.Do(ctx, bye); err != nil || res.StatusCode != 200 {
		t.Fatalf("BYE through the advertised address: %v %v", res, err)
	}
	eventually(t, 5*time.Second, "the BYE reaches the caller", func() bool { byes, _ := alice.counts(); return byes == 1 })
}
