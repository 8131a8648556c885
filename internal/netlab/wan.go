package netlab

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A WAN link between groups of hosts, emulated in user space: the router
// sends the packets between their subnets into a TUN device instead of
// forwarding them, and a goroutine writes each one back after a delay,
// dropping a fraction of them. This is what `tc netem` does in the
// kernel; kernels without the netem qdisc (no sch_netem module, as on
// this project's CI machines) have TUN all the same.
//
// How packets go: in the router, a policy rule per pair of subnets,
// `iif <veth of subnet a> from A to B lookup T`, sends the packets of a
// WAN pair to table T, whose only route is `default dev <tun>`. The
// emulator reads them from the TUN, and writes them back into it after
// the link's delay; the kernel then receives them with iif=tun, which
// no WAN rule matches, and forwards them by the main table. Cuts
// (blackhole rules at priorities from cutPrio) are looked up before the
// WAN rules (wanPrio), so a cut link drops whatever the WAN would do.

// Where the WAN's policy rules and routes live in the router.
const (
	cutPrio  = 1000  // Lab.Cut's blackhole rules: from cutPrio+1
	wanPrio  = 20000 // the WAN rules: well after every cut
	wanTable = 120   // the routing table that sends to the TUN
)

// Link is one emulated WAN link, between the hosts of two groups. Its
// methods may be called from any goroutine.
type Link struct {
	params  atomic.Pointer[linkParams]
	passed  atomic.Uint64
	dropped atomic.Uint64
}

type linkParams struct {
	oneWay time.Duration
	loss   float64
}

// Set changes the link's one-way delay and the fraction of packets it
// drops (each way), at once: packets already delayed keep their delay.
// Set(0, 0) passes every packet on at once (a LAN).
func (k *Link) Set(oneWay time.Duration, loss float64) {
	if err := checkWAN(oneWay, loss); err != nil {
		panic(err) // a test's own mistake, as a bad index would be
	}
	k.params.Store(&linkParams{oneWay: oneWay, loss: loss})
}

// Stats are how many packets the link has passed on and dropped so far
// (both ways).
func (k *Link) Stats() (passed, dropped uint64) { return k.passed.Load(), k.dropped.Load() }

func checkWAN(oneWay time.Duration, loss float64) error {
	switch {
	case oneWay < 0:
		return fmt.Errorf("netlab: WAN oneWay %v, must not be negative", oneWay)
	case !(loss >= 0 && loss <= 1):
		return fmt.Errorf("netlab: WAN loss %v, must be a fraction from 0 to 1", loss)
	}
	return nil
}

// WAN puts an emulated WAN link between the hosts of a and those of b:
// every packet between their subnets (both ways, IPv4 and IPv6, TCP, UDP
// and ICMP alike) is delayed by oneWay, and a loss fraction of them is
// dropped (independently, each way). Traffic inside a and inside b, and
// the test's own traffic to any host, is not delayed. A host's subnets
// may be in several WANs but a pair of hosts only in one; Cut still
// drops everything between two hosts of a WAN. The emulator stops in
// t.Cleanup.
func (l *Lab) WAN(a, b []*Host, oneWay time.Duration, loss float64) *Link {
	l.t.Helper()
	if err := checkWAN(oneWay, loss); err != nil {
		l.t.Fatal(err)
	}
	if l.wan == nil {
		l.wan = l.startEmulator()
	}
	k := &Link{}
	k.Set(oneWay, loss)
	batch := map[bool][]string{} // IPv6? → rules
	for _, x := range a {
		for _, y := range b {
			for _, sa := range x.subnets {
				for _, sb := range y.subnets {
					if sa == sb {
						l.t.Fatalf("netlab: WAN between %s and %s: they share subnet %d", x.name, y.name, sa)
					}
					for _, p := range [][2]int{{sa, sb}, {sb, sa}} {
						if !l.wan.add(p, k) {
							continue // the same host twice in a side
						}
						for _, v6 := range []bool{false, true} {
							from, to := l.v4(p[0], 0).String()+"/24", l.v4(p[1], 0).String()+"/24"
							if v6 {
								from, to = l.v6(p[0], 0).String()+"/64", l.v6(p[1], 0).String()+"/64"
							}
							batch[v6] = append(batch[v6], fmt.Sprintf("rule add prio %d iif %s from %s to %s lookup %d",
								wanPrio, l.dev(p[0])+"r", from, to, wanTable))
						}
					}
				}
			}
		}
	}
	l.ipBatch(l.router, "-4", batch[false])
	l.ipBatch(l.router, "-6", batch[true])
	return k
}

// ipBatch runs `ip FAMILY -batch` with these command lines in namespace
// ns (a batch takes one family for all its lines).
func (l *Lab) ipBatch(ns, family string, lines []string) {
	l.t.Helper()
	if len(lines) == 0 {
		return
	}
	cmd := exec.Command("ip", family, "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("network lab: ip -batch in %s: %v: %s", ns, err, strings.TrimSpace(string(out)))
	}
}

// emulator is the router's TUN device and the goroutines that delay and
// drop what it reads.
type emulator struct {
	tun   *os.File
	mu    sync.Mutex
	links map[[2]byte]*Link // (source subnet, destination subnet) → link
	queue packetQueue       // delayed packets, by when they are due
	seq   uint64            // arrival order, for equal due times
	wake  chan struct{}     // a packet was queued
	done  chan struct{}
	wg    sync.WaitGroup
}

// startEmulator opens a TUN device in the router, routes table wanTable
// to it, turns reverse-path filtering off (packets come back from the
// TUN with sources the router reaches elsewhere) and starts the
// emulator's goroutines, stopped in t.Cleanup before the namespaces go.
func (l *Lab) startEmulator() *emulator {
	l.t.Helper()
	name := "ucg" + l.id + "w"
	var fd int
	router := &Host{lab: l, name: "router", ns: l.router}
	if err := router.Do(func() (err error) { fd, err = openTUN(name); return err }); err != nil {
		skip(l.t, "cannot open a TUN device for the WAN emulator: %v", err)
	}
	e := &emulator{tun: os.NewFile(uintptr(fd), "/dev/net/tun"), links: map[[2]byte]*Link{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	l.t.Cleanup(e.stop)
	// A deep queue: a burst toward a slow reader is not dropped by the
	// kernel before the emulator decides what to drop.
	l.ip(l.router, "link", "set", name, "txqueuelen", "10000", "up")
	for _, key := range []string{"all", "default", name} {
		l.sysctl(l.router, "net.ipv4.conf."+key+".rp_filter", "0")
	}
	l.ip(l.router, "-4", "route", "add", "default", "dev", name, "table", fmt.Sprint(wanTable))
	l.ip(l.router, "-6", "route", "add", "default", "dev", name, "table", fmt.Sprint(wanTable))
	e.wg.Add(2)
	go e.read()
	go e.write()
	return e
}

// openTUN creates TUN device name (IP packets, no packet information
// header) in the calling thread's namespace, non-blocking so that the
// Go poller serves it and Close ends a pending Read.
func openTUN(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("netlab: open /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte // struct ifreq
	copy(req[:unix.IFNAMSIZ-1], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("netlab: TUNSETIFF %s: %w", name, errno)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("netlab: TUN %s non-blocking: %w", name, err)
	}
	return fd, nil
}

// add records link k for the subnet pair p; false when the pair has it
// already.
func (e *emulator) add(p [2]int, k *Link) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := [2]byte{byte(p[0]), byte(p[1])}
	if old, ok := e.links[key]; ok {
		if old != k {
			panic(fmt.Sprintf("netlab: subnets %d and %d are in two WAN links", p[0], p[1]))
		}
		return false
	}
	e.links[key] = k
	return true
}

// link is the link of a packet by the subnets of its addresses (the
// third byte of an IPv4 address, the eighth of the lab's IPv6 ones).
func (e *emulator) link(pkt []byte) *Link {
	var key [2]byte
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		key = [2]byte{pkt[14], pkt[18]}
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		key = [2]byte{pkt[8+7], pkt[24+7]}
	default:
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.links[key]
}

// read takes every packet from the TUN, drops it or queues it until its
// link's delay has passed (at once when there is none).
func (e *emulator) read() {
	defer e.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, err := e.tun.Read(buf)
		if err != nil {
			return // closed by stop (any other error ends the emulator as well)
		}
		k := e.link(buf[:n])
		if k == nil {
			continue // not a WAN packet (the kernel's own, e.g. a router solicitation)
		}
		p := k.params.Load()
		if p.loss > 0 && rand.Float64() < p.loss {
			k.dropped.Add(1)
			continue
		}
		k.passed.Add(1)
		pkt := append([]byte(nil), buf[:n]...)
		if p.oneWay == 0 {
			e.send(pkt)
			continue
		}
		e.mu.Lock()
		e.seq++
		heap.Push(&e.queue, delayed{due: time.Now().Add(p.oneWay), seq: e.seq, pkt: pkt})
		e.mu.Unlock()
		select {
		case e.wake <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// write sends each queued packet back into the TUN when it is due.
func (e *emulator) write() {
	defer e.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.mu.Lock()
		var wait time.Duration = time.Hour
		var due []byte
		if len(e.queue) > 0 {
			if wait = time.Until(e.queue[0].due); wait <= 0 {
				due = heap.Pop(&e.queue).(delayed).pkt
			}
		}
		e.mu.Unlock()
		if due != nil {
			e.send(due)
			continue
		}
		timer.Reset(wait)
		select {
		case <-e.done:
			return
		case <-e.wake:
		case <-timer.C:
		}
	}
}

// send writes one packet back into the TUN, for the kernel to forward.
func (e *emulator) send(pkt []byte) {
	// An error is a packet the kernel refused (no route while a test
	// changes routes) or the TUN closed at clean-up: lost, as on a real
	// link.
	_, _ = e.tun.Write(pkt)
}

// stop ends the goroutines and closes the TUN (which deletes it).
func (e *emulator) stop() {
	close(e.done)
	_ = e.tun.Close() // ends read's pending Read; nothing to report at clean-up
	e.wg.Wait()
}

// delayed is one packet waiting for its due time.
type delayed struct {
	due time.Time
	seq uint64
	pkt []byte
}

// packetQueue is a min-heap of delayed packets by due time, then arrival.
type packetQueue []delayed

func (q packetQueue) Len() int { return len(q) }
func (q packetQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].seq < q[j].seq
}
func (q packetQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *packetQueue) Push(x any)   { *q = append(*q, x.(delayed)) }
func (q *packetQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
