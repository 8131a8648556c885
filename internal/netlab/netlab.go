// Package netlab builds, for tests, a routed network of Linux network
// namespaces: hosts on their own subnets behind one router namespace, with
// IPv4 and IPv6 (ULA) addresses, hosts behind a masquerading NAT, hosts
// with one interface per network, links that can be cut and healed, and
// emulated WAN links (Lab.WAN: a one-way delay and a loss fraction
// between groups of hosts, such as the sites of a cluster).
// The test process itself reaches every host through one veth into the
// router, so it can call the HTTP API of a node running in the lab.
//
// The WAN emulator is in user space (wan.go): the router forwards the
// packets between the groups through a TUN device, and a goroutine of
// the test delays and drops them, as `tc netem` would. Kernels without
// the netem qdisc (this project's CI machines) have TUN all the same.
//
// It needs root, `ip` (iproute2) and, for NAT hosts, `iptables` and
// `conntrack`; without them New skips the test, or fails it when
// UCGRID_REQUIRE_PEERS is set (make test). Everything is deleted in
// t.Cleanup; names carry a random tag so packages may run labs in
// parallel.
//
// Programs run in a host with Host.Command (or Host.Wrap as a command
// prefix); Go code runs there with Host.Do (Host.ListenUDP opens a
// socket there). Host.CaptureUDP records every datagram a host receives,
// and Lab.Reaches tells whether a host can reach an address, so a test
// can check what a peer was told against what it could use.
//
//	lab := netlab.New(t)
//	srv, phone := lab.Host("srv"), lab.NATHost("phone")
//	cmd := phone.Command("sipp", "-i", phone.IPv4().String(), srv.IPv4().String())
package netlab

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testNet is the subnet of the test process's own link into the lab.
const testNet = 254

// Private LAN behind every NAT: the same on every NAT, as behind home
// routers, so a registrar cannot tell phones apart by their Contact.
var (
	lanRouter = netip.MustParseAddr("192.168.1.1")
	lanHost   = netip.MustParseAddr("192.168.1.2")
)

// Lab is one network of namespaces around a router namespace. Its methods
// may be called from one goroutine at a time (the test's).
type Lab struct {
	t      testing.TB
	id     string // random tag in every name
	octet  int    // the O of 10.O.0.0/16
	ula    [6]byte
	router string
	nets   int      // subnets handed out so far
	spaces []string // namespaces to delete
	mu     sync.Mutex
	cuts   map[[2]int]int // subnet pair → ip rule priority
	prio   int
	wan    *emulator // the WAN links' emulator, once WAN was called
}

// Host is one namespace in the lab.
type Host struct {
	lab     *Lab
	name    string
	ns      string
	subnets []int        // subnets on the router side (a NAT host: its NAT's)
	addrs   []netip.Addr // IPv4 then IPv6 per interface, in order
	nat     *Host        // the NAT in front of this host
}

// skip skips the test, or fails it when UCGRID_REQUIRE_PEERS is set.
func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "network lab: " + fmt.Sprintf(format, args...)
	if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
		t.Fatal(msg + " (UCGRID_REQUIRE_PEERS is set: the lab is required)")
	}
	t.Skip(msg)
}

// New builds an empty lab (a router and the test's link to it), or skips
// the test when this machine cannot.
func New(t testing.TB) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, "needs root to create network namespaces with `ip netns` (running as uid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip(t, "the `ip` command (iproute2) is not installed: run make test-deps")
	}
	l := &Lab{t: t, cuts: map[[2]int]int{}, prio: cutPrio}
	for try := 0; ; try++ {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand does not fail on Linux
		l.id, l.router = hex.EncodeToString(b[:2]), "ucg"+hex.EncodeToString(b[:2])+"r"
		l.ula[0] = 0xfd
		copy(l.ula[1:], b[2:7])
		out, err := exec.Command("ip", "netns", "add", l.router).CombinedOutput()
		if err == nil {
			break
		}
		if try == 5 || !strings.Contains(string(out), "exists") { // else: another lab has this tag
			skip(t, "cannot create a network namespace here: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	l.spaces = append(l.spaces, l.router)
	t.Cleanup(l.close)
	l.noDAD(l.router)
	l.ip(l.router, "link", "set", "lo", "up")
	l.sysctl(l.router, "net.ipv4.ip_forward", "1")
	l.sysctl(l.router, "net.ipv6.conf.all.forwarding", "1")
	l.linkTest()
	return l
}

// linkTest connects the test's own namespace to the router: a veth with
// 10.O.254.2 and a route to 10.O.0.0/16 and the lab's ULA /48 over it.
// O is chosen among the /16s this machine does not use yet; a lab running
// in parallel that took the same O a moment earlier makes the route exist
// already, and another O is tried.
func (l *Lab) linkTest() {
	l.t.Helper()
	dev, peer := l.dev(testNet), l.dev(testNet)+"r"
	l.ip("", "link", "add", dev, "type", "veth", "peer", "name", peer)
	l.ip("", "link", "set", peer, "netns", l.router)
	// No duplicate address detection on our end either (its link-local
	// address would hold neighbour discovery up for a second or two).
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/accept_dad", []byte("0"), 0o644); err != nil && !os.IsNotExist(err) {
		l.t.Fatalf("network lab: %v", err)
	}
	l.ip("", "link", "set", dev, "up")
	l.ip(l.router, "link", "set", peer, "up")
	for try := 0; ; try++ {
		l.octet = l.freeOctet()
		l.ip(l.router, "addr", "add", l.v4(testNet, 1).String()+"/24", "dev", peer)
		l.ip("", "addr", "add", l.v4(testNet, 2).String()+"/24", "dev", dev)
		out, err := exec.Command("ip", "route", "add", fmt.Sprintf("10.%d.0.0/16", l.octet), "via", l.v4(testNet, 1).String()).CombinedOutput()
		if err == nil {
			break
		}
		if try == 20 || !strings.Contains(string(out), "File exists") {
			l.t.Fatalf("network lab: route to the lab: %v: %s", err, out)
		}
		l.ip("", "addr", "flush", "dev", dev)
		l.ip(l.router, "addr", "flush", "dev", peer)
	}
	l.ip(l.router, "addr", "add", l.v6(testNet, 1).String()+"/64", "dev", peer, "nodad")
	if b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + dev + "/disable_ipv6"); err != nil || strings.TrimSpace(string(b)) != "0" {
		// IPv6 is off in the test's own namespace: the test reaches the
		// hosts over IPv4 only; inside the lab IPv6 works all the same.
		l.t.Logf("network lab: IPv6 is disabled in the test's namespace; the test reaches the lab over IPv4 only")
		return
	}
	l.ip("", "addr", "add", l.v6(testNet, 2).String()+"/64", "dev", dev, "nodad")
	l.ip("", "-6", "route", "add", l.ulaPrefix(), "via", l.v6(testNet, 1).String())
}

// freeOctet picks a random O in 100..249 whose 10.O.0.0/16 appears in no
// address or route of the test's namespace.
func (l *Lab) freeOctet() int {
	l.t.Helper()
	out, err := exec.Command("sh", "-c", "ip -4 route; ip -4 addr").CombinedOutput()
	if err != nil {
		l.t.Fatalf("network lab: ip route: %v: %s", err, out)
	}
	for {
		var b [2]byte
		_, _ = rand.Read(b[:]) // crypto/rand does not fail on Linux
		o := 100 + int(binary.BigEndian.Uint16(b[:]))%150
		if !strings.Contains(string(out), fmt.Sprintf("10.%d.", o)) {
			return o
		}
	}
}

func (l *Lab) v4(subnet, host int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(l.octet), byte(subnet), byte(host)})
}

func (l *Lab) v6(subnet, host int) netip.Addr {
	var a [16]byte
	copy(a[:], l.ula[:])
	a[7] = byte(subnet)
	a[15] = byte(host)
	return netip.AddrFrom16(a)
}

func (l *Lab) ulaPrefix() string { return netip.PrefixFrom(l.v6(0, 0), 48).String() }
func (l *Lab) dev(subnet int) string {
	return fmt.Sprintf("ucg%sv%d", l.id, subnet)
}

// hostName is what a host may be called: a NAT host's NAT box adds "nat",
// and namespace names stay short in `ip netns list`.
var hostName = regexp.MustCompile(`^[a-z0-9]{1,15}$`)

// newHost creates the namespace of a host.
func (l *Lab) newHost(name string) *Host {
	l.t.Helper()
	if !hostName.MatchString(name) {
		l.t.Fatalf("network lab: host name %q: want 1 to 15 of a-z, 0-9 (a NAT host 1 to 12)", name)
	}
	h := &Host{lab: l, name: name, ns: "ucg" + l.id + "-" + name}
	l.ip("", "netns", "add", h.ns)
	l.spaces = append(l.spaces, h.ns)
	l.noDAD(h.ns)
	l.ip(h.ns, "link", "set", "lo", "up")
	return h
}

// attach gives h a new interface ethN on a new subnet behind the router
// (10.O.k.2/24 and ULA :k::2/64, router at .1 and ::1) and returns the
// subnet.
func (l *Lab) attach(h *Host) int {
	l.t.Helper()
	if l.nets++; l.nets >= testNet {
		l.t.Fatalf("network lab: more than %d subnets", testNet-1)
	}
	k := l.nets
	dev, peer, eth := l.dev(k), l.dev(k)+"r", fmt.Sprintf("eth%d", len(h.subnets))
	l.ip("", "link", "add", dev, "type", "veth", "peer", "name", peer)
	l.ip("", "link", "set", dev, "netns", h.ns)
	l.ip(h.ns, "link", "set", dev, "name", eth)
	l.ip("", "link", "set", peer, "netns", l.router)
	l.ip(h.ns, "addr", "add", l.v4(k, 2).String()+"/24", "dev", eth)
	l.ip(h.ns, "addr", "add", l.v6(k, 2).String()+"/64", "dev", eth, "nodad")
	l.ip(h.ns, "link", "set", eth, "up")
	l.ip(l.router, "addr", "add", l.v4(k, 1).String()+"/24", "dev", peer)
	l.ip(l.router, "addr", "add", l.v6(k, 1).String()+"/64", "dev", peer, "nodad")
	l.ip(l.router, "link", "set", peer, "up")
	h.subnets = append(h.subnets, k)
	h.addrs = append(h.addrs, l.v4(k, 2), l.v6(k, 2))
	return k
}

// Host adds a host on its own subnet, reachable from every other host
// and from the test, over IPv4 and IPv6.
func (l *Lab) Host(name string) *Host {
	l.t.Helper()
	h := l.newHost(name)
	k := l.attach(h)
	l.ip(h.ns, "route", "add", "default", "via", l.v4(k, 1).String())
	l.ip(h.ns, "-6", "route", "add", "default", "via", l.v6(k, 1).String())
	return h
}

// MultiHomed adds a host with one interface per side (eth0, eth1, …), each
// on its own subnet: the hosts of side i reach it only through interface
// i, and the sides do not reach each other. The test reaches it on eth0.
// The hosts of the sides must exist already.
func (l *Lab) MultiHomed(name string, sides ...[]*Host) *Host {
	l.t.Helper()
	if len(sides) == 0 {
		l.t.Fatalf("network lab: MultiHomed %q: give at least one side", name)
	}
	h := l.newHost(name)
	for i, side := range sides {
		k := l.attach(h)
		eth := fmt.Sprintf("eth%d", i)
		if i == 0 {
			l.ip(h.ns, "route", "add", "default", "via", l.v4(k, 1).String())
			l.ip(h.ns, "-6", "route", "add", "default", "via", l.v6(k, 1).String())
		}
		for _, p := range side {
			for _, s := range p.subnets {
				l.ip(h.ns, "route", "replace", l.v4(s, 0).String()+"/24", "via", l.v4(k, 1).String(), "dev", eth)
				l.ip(h.ns, "-6", "route", "replace", l.v6(s, 0).String()+"/64", "via", l.v6(k, 1).String(), "dev", eth)
			}
		}
	}
	// Each side reaches only its own interface; sides do not meet.
	for i, side := range sides {
		for j, other := range sides {
			if i == j {
				continue
			}
			for _, p := range side {
				l.cutSubnets(p.subnets, h.subnets[j:j+1], true)
				for _, q := range other {
					l.cutSubnets(p.subnets, q.subnets, true)
				}
			}
		}
	}
	return h
}

// NATHost adds a host on a private LAN (192.168.1.2/24, IPv4 only) behind
// its own NAT, a namespace on a lab subnet that masquerades the LAN's
// traffic (iptables MASQUERADE) and lets in only the replies of flows the
// LAN opened, like a home router. Every NAT host has the same private
// address. NAT returns the NAT box.
func (l *Lab) NATHost(name string) *Host {
	l.t.Helper()
	if len(name) > 12 {
		l.t.Fatalf("network lab: NAT host name %q: want 1 to 12 of a-z, 0-9", name)
	}
	for _, tool := range []string{"iptables", "conntrack"} {
		if _, err := exec.LookPath(tool); err != nil {
			skip(l.t, "`%s` is not installed (make test-deps installs it)", tool)
		}
	}
	nat := l.Host(name + "nat")
	h := l.newHost(name)
	dev := fmt.Sprintf("ucg%sl%d", l.id, l.nets)
	l.ip("", "link", "add", dev, "type", "veth", "peer", "name", dev+"r")
	l.ip("", "link", "set", dev, "netns", h.ns)
	l.ip(h.ns, "link", "set", dev, "name", "eth0")
	l.ip("", "link", "set", dev+"r", "netns", nat.ns)
	l.ip(nat.ns, "link", "set", dev+"r", "name", "lan0")
	l.ip(h.ns, "addr", "add", lanHost.String()+"/24", "dev", "eth0")
	l.ip(h.ns, "link", "set", "eth0", "up")
	l.ip(h.ns, "route", "add", "default", "via", lanRouter.String())
	l.ip(nat.ns, "addr", "add", lanRouter.String()+"/24", "dev", "lan0")
	l.ip(nat.ns, "link", "set", "lan0", "up")
	l.sysctl(nat.ns, "net.ipv4.ip_forward", "1")
	for _, rule := range [][]string{
		{"-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"},
		{"-A", "FORWARD", "-i", "eth0", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
		{"-A", "FORWARD", "-i", "eth0", "-j", "DROP"},
	} {
		// -w: labs of other packages may run iptables at the same moment
		// (the legacy backend's lock is machine-wide).
		nat.run("iptables", append([]string{"-w"}, rule...)...)
	}
	h.subnets, h.nat = nat.subnets, nat
	h.addrs = []netip.Addr{lanHost}
	return h
}

// Cut drops, silently like a failed WAN link, every packet between a and
// b (both directions, both families); the test still reaches both.
func (l *Lab) Cut(a, b *Host) { l.cutSubnets(a.subnets, b.subnets, true) }

// Heal undoes Cut.
func (l *Lab) Heal(a, b *Host) { l.cutSubnets(a.subnets, b.subnets, false) }

// cutSubnets adds (cut) or removes blackhole rules in the router for
// every pair of subnets of as and bs, both ways.
func (l *Lab) cutSubnets(as, bs []int, cut bool) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range as {
		for _, b := range bs {
			for _, p := range [][2]int{{a, b}, {b, a}} {
				prio, done := l.cuts[p]
				if done == cut {
					continue
				}
				if cut {
					l.prio++
					prio = l.prio
					l.cuts[p] = prio
				} else {
					delete(l.cuts, p)
				}
				verb := map[bool]string{true: "add", false: "del"}[cut]
				for fam, sub := range map[string]func(int, int) netip.Addr{"-4": l.v4, "-6": l.v6} {
					bits := map[string]string{"-4": "/24", "-6": "/64"}[fam]
					l.ip(l.router, fam, "rule", verb, "prio", fmt.Sprint(prio),
						"from", sub(p[0], 0).String()+bits, "to", sub(p[1], 0).String()+bits, "blackhole")
				}
			}
		}
	}
}

// close deletes the test's link (its routes and its router end go with
// it), then the namespaces (their veths go with them).
func (l *Lab) close() {
	if out, err := exec.Command("ip", "link", "del", l.dev(testNet)).CombinedOutput(); err != nil {
		l.t.Errorf("network lab: ip link del %s: %v: %s", l.dev(testNet), err, out)
	}
	for _, ns := range l.spaces {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			l.t.Errorf("network lab: ip netns del %s: %v: %s", ns, err, out)
		}
	}
}

// ip runs `ip ARGS` in namespace ns ("" for the test's own).
func (l *Lab) ip(ns string, args ...string) {
	l.t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("network lab: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

// noDAD turns duplicate address detection off in namespace ns, for the
// interfaces it gets from now on: their link-local addresses are usable
// at once (neighbour discovery waits for them otherwise, and the first
// IPv6 packet for about two seconds). The lab's addresses are unique by
// construction.
func (l *Lab) noDAD(ns string) {
	l.t.Helper()
	l.sysctl(ns, "net.ipv6.conf.default.accept_dad", "0")
	l.sysctl(ns, "net.ipv6.conf.all.accept_dad", "0")
}

// sysctl sets key (dotted) to value in namespace ns: per-namespace keys
// (net.*) are read through the namespace's own /proc/sys.
func (l *Lab) sysctl(ns, key, value string) {
	l.t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	if out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "echo "+value+" > "+path).CombinedOutput(); err != nil {
		l.t.Fatalf("network lab: in %s: %s=%s: %v: %s", ns, key, value, err, strings.TrimSpace(string(out)))
	}
}

// Name is the name the host was given.
func (h *Host) Name() string { return h.name }

// Namespace is the host's network namespace (for `ip netns exec`).
func (h *Host) Namespace() string { return h.ns }

// IPv4 is the host's address on its first interface.
func (h *Host) IPv4() netip.Addr { return h.addrs[0] }

// IPv6 is the host's ULA address on its first interface; the zero Addr
// for a NAT host (its LAN is IPv4 only).
func (h *Host) IPv6() netip.Addr {
	if len(h.addrs) < 2 {
		return netip.Addr{}
	}
	return h.addrs[1]
}

// Addrs are all the host's addresses, IPv4 and IPv6 of each interface in
// turn (eth0's first).
func (h *Host) Addrs() []netip.Addr { return append([]netip.Addr(nil), h.addrs...) }

// NAT is the NAT box in front of a NAT host (its IPv4 is the public
// address the host's traffic comes from), nil for other hosts.
func (h *Host) NAT() *Host { return h.nat }

// Wrap is the command prefix that runs a command in the host's namespace.
func (h *Host) Wrap() []string { return []string{"ip", "netns", "exec", h.ns} }

// Command is exec.Command for a program run in the host's namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
}

// run runs a command in the namespace and fails the test if it fails;
// it returns the output.
func (h *Host) run(name string, args ...string) string {
	h.lab.t.Helper()
	out, err := h.Command(name, args...).CombinedOutput()
	if err != nil {
		h.lab.t.Fatalf("network lab: in %s: %s %s: %v: %s", h.name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out)
}

// Do runs f on an OS thread that is in the host's namespace: the sockets
// f opens (net.ListenPacket, net.Dial, …) belong to the host and stay
// there. Goroutines that f starts run outside the namespace.
func (h *Host) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, left in the namespace, ends with
		// this goroutine instead of going back to the scheduler's pool.
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+h.ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netlab: open namespace %s: %w", h.ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netlab: enter namespace %s: %w", h.ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// ListenUDP opens a UDP socket in the host's namespace on addr (":0",
// "[::]:5060", …), closed in t.Cleanup.
func (h *Host) ListenUDP(addr string) *net.UDPConn {
	h.lab.t.Helper()
	var c net.PacketConn
	if err := h.Do(func() (err error) { c, err = net.ListenPacket("udp", addr); return err }); err != nil {
		h.lab.t.Fatalf("network lab: in %s: listen udp %s: %v", h.name, addr, err)
	}
	h.lab.t.Cleanup(func() { _ = c.Close() }) // a second Close by the test is harmless
	return c.(*net.UDPConn)
}

// SetUDPTimeout sets how long this NAT box keeps an idle UDP mapping:
// both conntrack timeouts (a flow seen once, and a flow seen both ways),
// which are per namespace. A NAT binding without keep-alives then expires
// after d.
func (h *Host) SetUDPTimeout(d time.Duration) {
	h.lab.t.Helper()
	secs := fmt.Sprint(max(1, int(d.Round(time.Second)/time.Second)))
	h.lab.sysctl(h.ns, "net.netfilter.nf_conntrack_udp_timeout", secs)
	h.lab.sysctl(h.ns, "net.netfilter.nf_conntrack_udp_timeout_stream", secs)
}

// FlushNAT forgets every mapping of this NAT box at once (as a home
// router that rebooted): the next packet from the LAN gets a new one, and
// packets from outside to the old one are dropped.
func (h *Host) FlushNAT() {
	h.lab.t.Helper()
	if out, err := h.Command("conntrack", "-F").CombinedOutput(); err != nil {
		h.lab.t.Fatalf("network lab: in %s: conntrack -F: %v: %s", h.name, err, strings.TrimSpace(string(out)))
	}
}
