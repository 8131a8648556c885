package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// exchange sends "ping" from a UDP socket in from to to:port and has the
// listener l answer its source; it returns the source l saw, failing the
// test when the request or the answer is lost.
func exchange(t *testing.T, from *Host, l *net.UDPConn, to netip.Addr) netip.AddrPort {
	t.Helper()
	dst := netip.AddrPortFrom(to, uint16(l.LocalAddr().(*net.UDPAddr).Port))
	c := from.ListenUDP(":0")
	if _, err := c.WriteToUDPAddrPort([]byte("ping"), dst); err != nil {
		t.Fatalf("%s → %s: %v", from.Name(), dst, err)
	}
	src := read(t, l, "ping", dst.String())
	if _, err := l.WriteToUDPAddrPort([]byte("pong"), src); err != nil {
		t.Fatalf("answer to %s: %v", src, err)
	}
	read(t, c, "pong", "the answer from "+dst.String())
	return src
}

// read reads one datagram that must be want within 5 s.
func read(t *testing.T, c *net.UDPConn, want, what string) netip.AddrPort {
	t.Helper()
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second)) // a deadline on an open socket cannot fail
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != want {
		t.Fatalf("%s: got %q, %v", what, buf[:n], err)
	}
	return netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
}

// silent asserts that nothing arrives on c for a short while.
func silent(t *testing.T, c *net.UDPConn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond)) // as in read
	buf := make([]byte, 64)
	if n, src, err := c.ReadFromUDPAddrPort(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: got %q from %s (%v), want nothing", what, buf[:n], src, err)
	}
}

func TestLab_HostsReachEachOtherOverIPv4AndIPv6(t *testing.T) {
	lab := New(t)
	a, b := lab.Host("a"), lab.Host("b")
	if !a.IPv4().Is4() || !a.IPv6().Is6() || !strings.HasPrefix(a.IPv6().String(), "fd") {
		t.Fatalf("addresses %v, want an IPv4 and a ULA", a.Addrs())
	}
	l := b.ListenUDP("[::]:0")
	for i, to := range []netip.Addr{b.IPv4(), b.IPv6()} {
		if src, want := exchange(t, a, l, to), a.Addrs()[i]; src.Addr() != want {
			t.Errorf("b saw %s, want a's %s", src, want)
		}
	}
	// The test's own namespace reaches the hosts on both families.
	for _, to := range []netip.Addr{b.IPv4(), b.IPv6()} {
		c, err := net.Dial("udp", netip.AddrPortFrom(to, uint16(l.LocalAddr().(*net.UDPAddr).Port)).String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		read(t, l, "ping", "from the test to "+to.String())
	}
}

func TestLab_CutDropsBothWaysAndHealRestores(t *testing.T) {
	lab := New(t)
	a, b, c := lab.Host("a"), lab.Host("b"), lab.Host("c")
	lb := b.ListenUDP("[::]:0")
	lab.Cut(a, b)
	for _, to := range []netip.Addr{b.IPv4(), b.IPv6()} {
		s := a.ListenUDP(":0")
		if _, err := s.WriteToUDPAddrPort([]byte("ping"), netip.AddrPortFrom(to, uint16(lb.LocalAddr().(*net.UDPAddr).Port))); err != nil {
			t.Fatal(err)
		}
		silent(t, lb, "a → b while cut")
	}
	exchange(t, c, lb, b.IPv4()) // c is not cut off
	lab.Heal(a, b)
	exchange(t, a, lb, b.IPv4())
	exchange(t, a, lb, b.IPv6())
}

func TestLab_NATHostIsSeenAtItsNATsAddressAndOnlyAnswersGetIn(t *testing.T) {
	lab := New(t)
	srv, phone, other := lab.Host("srv"), lab.NATHost("phone"), lab.NATHost("other")
	if phone.IPv4() != other.IPv4() || !phone.IPv4().IsPrivate() {
		t.Fatalf("NAT hosts at %s and %s: want the same private address", phone.IPv4(), other.IPv4())
	}
	if phone.NAT() == nil || phone.NAT().IPv4() == other.NAT().IPv4() {
		t.Fatal("NAT hosts need NAT boxes of their own")
	}
	l := srv.ListenUDP(":0")
	if src := exchange(t, phone, l, srv.IPv4()); src.Addr() != phone.NAT().IPv4() {
		t.Fatalf("the server saw the NAT host at %s, want its NAT's %s", src, phone.NAT().IPv4())
	}
	// The NAT lets in answers to the flow only, not a new one.
	pc := phone.ListenUDP(":0")
	if _, err := pc.WriteToUDPAddrPort([]byte("ping"), netip.AddrPortFrom(srv.IPv4(), uint16(l.LocalAddr().(*net.UDPAddr).Port))); err != nil {
		t.Fatal(err)
	}
	mapped := read(t, l, "ping", "through the NAT")
	stranger := srv.ListenUDP(":0")
	if _, err := stranger.WriteToUDPAddrPort([]byte("pong"), mapped); err != nil {
		t.Fatal(err)
	}
	silent(t, pc, "a packet from another port to the NAT mapping")
	// Once the NAT forgot the mapping, the answer does not get in.
	phone.NAT().FlushNAT()
	if _, err := l.WriteToUDPAddrPort([]byte("pong"), mapped); err != nil {
		t.Fatal(err)
	}
	silent(t, pc, "an answer after the NAT forgot the mapping")
	// The private LAN is not routed from outside.
	if _, err := l.WriteToUDPAddrPort([]byte("pong"), netip.AddrPortFrom(phone.IPv4(), uint16(pc.LocalAddr().(*net.UDPAddr).Port))); err != nil {
		t.Fatal(err)
	}
	silent(t, pc, "a packet to the private address")
}

func TestLab_NATUDPTimeoutExpiresMappings(t *testing.T) {
	lab := New(t)
	srv, phone := lab.Host("srv"), lab.NATHost("phone")
	phone.NAT().SetUDPTimeout(time.Second)
	out, err := phone.NAT().Command("cat", "/proc/sys/net/netfilter/nf_conntrack_udp_timeout", "/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream").CombinedOutput()
	if err != nil || strings.Fields(string(out))[0] != "1" || strings.Fields(string(out))[1] != "1" {
		t.Fatalf("conntrack UDP timeouts in the NAT: %q %v, want 1 and 1", out, err)
	}
	// The host's own namespace keeps its timeouts.
	if own, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_udp_timeout"); err == nil && strings.TrimSpace(string(own)) == "1" {
		t.Errorf("the test's own namespace has a 1 s UDP timeout too")
	}
	l := srv.ListenUDP(":0")
	pc := phone.ListenUDP(":0")
	if _, err := pc.WriteToUDPAddrPort([]byte("ping"), netip.AddrPortFrom(srv.IPv4(), uint16(l.LocalAddr().(*net.UDPAddr).Port))); err != nil {
		t.Fatal(err)
	}
	mapped := read(t, l, "ping", "through the NAT")
	deadline := time.Now().Add(10 * time.Second)
	for phone.NAT().hasUDPMapping(t) {
		if time.Now().After(deadline) {
			t.Fatal("the NAT mapping outlived its 1 s timeout by 10 s")
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	if _, err := l.WriteToUDPAddrPort([]byte("pong"), mapped); err != nil {
		t.Fatal(err)
	}
	silent(t, pc, "an answer after the mapping expired")
}

// hasUDPMapping tells whether this NAT box's conntrack table has a UDP
// flow.
func (h *Host) hasUDPMapping(t *testing.T) bool {
	t.Helper()
	out, err := h.Command("conntrack", "-L", "-p", "udp").CombinedOutput()
	if err != nil {
		t.Fatalf("conntrack -L: %v: %s", err, out)
	}
	return strings.Contains(string(out), "udp ")
}

func TestLab_MultiHomedHostIsReachedByEachSideOnItsOwnInterface(t *testing.T) {
	lab := New(t)
	east, west := lab.Host("east"), lab.Host("west")
	srv := lab.MultiHomed("srv", []*Host{east}, []*Host{west})
	addrs := srv.Addrs()
	if len(addrs) != 4 {
		t.Fatalf("multi-homed addresses %v, want IPv4 and IPv6 on two interfaces", addrs)
	}
	eastAddr, westAddr := addrs[0], addrs[2]
	l := srv.ListenUDP("[::]:0")
	if src := exchange(t, east, l, eastAddr); src.Addr() != east.IPv4() {
		t.Errorf("east seen as %s", src)
	}
	exchange(t, west, l, westAddr)
	exchange(t, west, l, addrs[3])
	// Each side cannot reach the other interface, nor the other side.
	port := uint16(l.LocalAddr().(*net.UDPAddr).Port)
	lw := west.ListenUDP(":0")
	for _, c := range []struct {
		from *Host
		to   netip.AddrPort
		l    *net.UDPConn
	}{
		{east, netip.AddrPortFrom(westAddr, port), l},
		{west, netip.AddrPortFrom(eastAddr, port), l},
		{east, netip.AddrPortFrom(west.IPv4(), uint16(lw.LocalAddr().(*net.UDPAddr).Port)), lw},
	} {
		s := c.from.ListenUDP(":0")
		if _, err := s.WriteToUDPAddrPort([]byte("ping"), c.to); err != nil {
			t.Fatal(err)
		}
		silent(t, c.l, c.from.Name()+" → "+c.to.String())
	}
	// The test reaches it on its first interface.
	d, err := net.Dial("udp", netip.AddrPortFrom(eastAddr, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	read(t, l, "ping", "from the test")
}

func TestCapture_RecordsWhatTheHostReceivesOnly(t *testing.T) {
	lab := New(t)
	a, b := lab.Host("a"), lab.Host("b")
	capB := b.CaptureUDP()
	l := b.ListenUDP("[::]:0")
	port := uint16(l.LocalAddr().(*net.UDPAddr).Port)
	srcV4 := exchange(t, a, l, b.IPv4())
	srcV6 := exchange(t, a, l, b.IPv6())
	deadline := time.Now().Add(5 * time.Second)
	for len(capB.Datagrams()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	capB.Stop()
	got := capB.Datagrams()
	want := []Datagram{
		{From: srcV4, To: netip.AddrPortFrom(b.IPv4(), port), Payload: []byte("ping")},
		{From: srcV6, To: netip.AddrPortFrom(b.IPv6(), port), Payload: []byte("ping")},
	}
	if len(got) != len(want) {
		t.Fatalf("captured %v, want the two pings (not b's pongs)", got)
	}
	for i := range want {
		if got[i].From != want[i].From || got[i].To != want[i].To || string(got[i].Payload) != "ping" {
			t.Errorf("datagram %d: %s → %s %q, want %s → %s ping", i, got[i].From, got[i].To, got[i].Payload, want[i].From, want[i].To)
		}
	}
}

// TestCapture_BothWaysRecordsWhatTheHostSendsToo: b's capture of both
// ways has the ping it received and the pong it sent, marked Sent, in
// order, and not its loopback traffic.
func TestCapture_BothWaysRecordsWhatTheHostSendsToo(t *testing.T) {
	lab := New(t)
	a, b := lab.Host("a"), lab.Host("b")
	capB := b.CaptureUDPBothWays()
	l := b.ListenUDP("0.0.0.0:0")
	port := uint16(l.LocalAddr().(*net.UDPAddr).Port)
	src := exchange(t, a, l, b.IPv4())
	lo := b.ListenUDP("127.0.0.1:0")
	if _, err := lo.WriteToUDPAddrPort([]byte("self"), netip.MustParseAddrPort(lo.LocalAddr().String())); err != nil {
		t.Fatal(err)
	}
	read(t, lo, "self", "b to itself on the loopback")
	deadline := time.Now().Add(5 * time.Second)
	for len(capB.Datagrams()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	capB.Stop()
	got := capB.Datagrams()
	me := netip.AddrPortFrom(b.IPv4(), port)
	if len(got) != 2 || got[0].Sent || got[0].From != src || got[0].To != me || string(got[0].Payload) != "ping" ||
		!got[1].Sent || got[1].From != me || got[1].To != src || string(got[1].Payload) != "pong" || got[1].At.Before(got[0].At) {
		t.Fatalf("captured %+v, want the ping from %s received, then the pong to it sent", got, src)
	}
}

func TestLab_ReachesFollowsRoutesCutsAndNAT(t *testing.T) {
	lab := New(t)
	a, b, c, p := lab.Host("a"), lab.Host("b"), lab.Host("c"), lab.NATHost("p")
	m := lab.MultiHomed("m", []*Host{a}, []*Host{b})
	lab.Cut(a, p)
	for _, tc := range []struct {
		from *Host
		to   netip.Addr
		want bool
	}{
		{a, c.IPv4(), true}, {a, c.IPv6(), true}, {a, a.IPv4(), true}, {c, b.IPv6(), true},
		{a, netip.MustParseAddr("127.0.0.1"), false}, {a, netip.MustParseAddr("::1"), false},
		{a, netip.MustParseAddr("0.0.0.0"), false}, {a, netip.MustParseAddr("192.0.2.1"), false},
		{a, p.IPv4(), false}, {b, p.IPv4(), false}, {p, p.IPv4(), true}, {b, p.NAT().IPv4(), true},
		{a, p.NAT().IPv4(), false}, {p, b.IPv4(), true},
		{a, m.Addrs()[0], true}, {a, m.Addrs()[2], false}, {b, m.Addrs()[2], true}, {b, m.Addrs()[1], false}, {a, b.IPv4(), false}, {c, m.Addrs()[2], true},
	} {
		if got := lab.Reaches(tc.from, tc.to); got != tc.want {
			t.Errorf("Reaches(%s, %s) = %v, want %v", tc.from.Name(), tc.to, got, tc.want)
		}
	}
}

// Nothing of a lab outlives its test: no namespace, link, address or
// route of it in the test's own namespace (other labs may be running).
func TestLab_CleanupLeavesNothingBehind(t *testing.T) {
	var id, octet, ula string
	t.Run("lab", func(t *testing.T) {
		lab := New(t)
		lab.Cut(lab.Host("a"), lab.NATHost("b"))
		lab.MultiHomed("c", nil, nil)
		id, octet, ula = lab.id, fmt.Sprintf("10.%d.", lab.octet), lab.ulaPrefix()
	})
	if id == "" {
		t.Skip("the lab could not be built")
	}
	out, err := exec.Command("sh", "-c", "ip netns list; ip link; ip addr; ip route; ip -6 route").CombinedOutput()
	if err != nil {
		t.Fatalf("ip: %v: %s", err, out)
	}
	for _, trace := range []string{"ucg" + id, octet, strings.TrimSuffix(ula, "::/48")} {
		if strings.Contains(string(out), trace) {
			t.Errorf("%q left behind:\n%s", trace, out)
		}
	}
}
