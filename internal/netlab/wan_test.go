package netlab

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// rtt is the round-trip time of one exchange (a datagram and its answer)
// from a new socket in from to the listener l at to.
func rtt(t *testing.T, from *Host, l *net.UDPConn, to netip.Addr) time.Duration {
	t.Helper()
	start := time.Now()
	exchange(t, from, l, to)
	return time.Since(start)
}

// minRTT is the shortest of five exchanges: how long the path takes when
// the machine's load does not add to it.
func minRTT(t *testing.T, from *Host, l *net.UDPConn, to netip.Addr) time.Duration {
	t.Helper()
	best := time.Hour
	for range 5 {
		best = min(best, rtt(t, from, l, to))
	}
	return best
}

// TestWAN_DelaysBetweenSitesOnlyAndSetTurnsItOff: two sites, a1 and a2
// in one, b1 in the other, a 30 ms one-way WAN between them. A round
// trip between the sites (IPv4 and IPv6) takes at least 60 ms; one
// inside a site, and the test's own to a host of either site, is not
// delayed. Set(0, 0) takes the delay off, and Set puts it back.
func TestWAN_DelaysBetweenSitesOnlyAndSetTurnsItOff(t *testing.T) {
	const oneWay = 30 * time.Millisecond
	lab := New(t)
	a1, a2, b1 := lab.Host("a1"), lab.Host("a2"), lab.Host("b1")
	wan := lab.WAN([]*Host{a1, a2}, []*Host{b1}, oneWay, 0)
	lb, la := b1.ListenUDP("[::]:0"), a2.ListenUDP("[::]:0")
	for _, to := range []netip.Addr{b1.IPv4(), b1.IPv6()} {
		for range 3 {
			if d := rtt(t, a1, lb, to); d < 2*oneWay {
				t.Fatalf("a1 → b1 (%s) across the WAN: round trip %v, want at least %v", to, d, 2*oneWay)
			}
		}
		if d := rtt(t, b1, la, a2.Addrs()[map[bool]int{true: 0, false: 1}[to.Is4()]]); d < 2*oneWay {
			t.Fatalf("b1 → a2 across the WAN: round trip %v, want at least %v", d, 2*oneWay)
		}
	}
	if d := minRTT(t, a1, la, a2.IPv4()); d >= oneWay {
		t.Fatalf("a1 → a2 inside a site: round trip %v, want no WAN delay (< %v)", d, oneWay)
	}
	if d := testRTT(t, lb, b1.IPv4()); d >= oneWay {
		t.Fatalf("the test → b1: round trip %v, want no WAN delay (< %v)", d, oneWay)
	}
	if p, _ := wan.Stats(); p < 2*3*2+2*2 {
		t.Fatalf("the link passed %d packets, want at least the %d of the exchanges across it", p, 2*3*2+2*2)
	}

	wan.Set(0, 0)
	if d := minRTT(t, a1, lb, b1.IPv4()); d >= oneWay {
		t.Fatalf("a1 → b1 after Set(0, 0): round trip %v, want no delay (< %v)", d, oneWay)
	}
	wan.Set(oneWay, 0)
	if d := rtt(t, a1, lb, b1.IPv6()); d < 2*oneWay {
		t.Fatalf("a1 → b1 after Set(%v, 0) again: round trip %v, want at least %v", oneWay, d, 2*oneWay)
	}
}

// testRTT is the shortest of five round trips from a socket of the test
// process itself to the listener l at to.
func testRTT(t *testing.T, l *net.UDPConn, to netip.Addr) time.Duration {
	t.Helper()
	c, err := net.ListenUDP("udp", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := netip.AddrPortFrom(to, uint16(l.LocalAddr().(*net.UDPAddr).Port))
	best := time.Hour
	for range 5 {
		start := time.Now()
		if _, err := c.WriteToUDPAddrPort([]byte("ping"), dst); err != nil {
			t.Fatal(err)
		}
		src := read(t, l, "ping", "from the test to "+dst.String())
		if _, err := l.WriteToUDPAddrPort([]byte("pong"), src); err != nil {
			t.Fatal(err)
		}
		read(t, c, "pong", "the answer from "+dst.String())
		best = min(best, time.Since(start))
	}
	return best
}

// TestWAN_DropsAboutTheAskedFraction: 2000 datagrams from one site to the
// other over a link that drops 5 %: the link drops between 2.5 % and 8 %
// of them (expected 100, standard deviation about 10), and every one it
// passed arrives.
func TestWAN_DropsAboutTheAskedFraction(t *testing.T) {
	const n, loss = 2000, 0.05
	lab := New(t)
	a, b := lab.Host("a"), lab.Host("b")
	wan := lab.WAN([]*Host{a}, []*Host{b}, time.Millisecond, loss)
	rx, tx := b.ListenUDP(":0"), a.ListenUDP(":0")
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
				return // closed below
			}
			received.Add(1)
		}
	}()
	dst := netip.AddrPortFrom(b.IPv4(), uint16(rx.LocalAddr().(*net.UDPAddr).Port))
	for i := range n {
		if _, err := tx.WriteToUDPAddrPort(binary.BigEndian.AppendUint32(nil, uint32(i)), dst); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // pacing: the receiver's socket buffer is small
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p, d := wan.Stats(); p+d == n {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the link saw %d of %d datagrams", p+d, n)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	passed, dropped := wan.Stats()
	for received.Load() < int64(passed) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	rx.Close()
	<-done
	t.Logf("%d datagrams: %d dropped (%.2f %%), %d passed, %d received", n, dropped, 100*float64(dropped)/n, passed, received.Load())
	if dropped < n*loss/2 || dropped > n*loss*1.6 {
		t.Errorf("dropped %d of %d, want about %v %% (%d to %d)", dropped, n, 100*loss, int(n*loss/2), int(n*loss*1.6))
	}
	if uint64(received.Load()) != passed {
		t.Errorf("received %d datagrams, but the link passed %d", received.Load(), passed)
	}
}

// TestWAN_CarriesTCPOverIPv6AndCutStillDrops: a 1 MB TCP transfer over
// IPv6 across a link with 10 ms delay and 1 % loss arrives intact; a
// Cut between the sites drops everything although the WAN is there, and
// Heal brings the delayed link back.
func TestWAN_CarriesTCPOverIPv6AndCutStillDrops(t *testing.T) {
	const oneWay = 10 * time.Millisecond
	lab := New(t)
	a, b := lab.Host("a"), lab.Host("b")
	wan := lab.WAN([]*Host{a}, []*Host{b}, oneWay, 0.01)

	data := make([]byte, 1<<20)
	_, _ = rand.Read(data) // crypto/rand does not fail on Linux
	var ln net.Listener
	if err := b.Do(func() (err error) { ln, err = net.Listen("tcp", "[::]:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	recv := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			recv <- nil
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // on an open connection: cannot fail
		got, _ := io.ReadAll(c)                             // what arrived is compared below
		recv <- got
	}()
	var c net.Conn
	addr := net.JoinHostPort(b.IPv6().String(), fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	if err := a.Do(func() (err error) { c, err = net.DialTimeout("tcp", addr, 5*time.Second); return err }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := <-recv; !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes, want the %d sent, unchanged", len(got), len(data))
	}
	t.Logf("1 MB over TCP/IPv6 across the WAN in %v", time.Since(start).Round(time.Millisecond))

	l := b.ListenUDP(":0")
	lab.Cut(a, b)
	c2 := a.ListenUDP(":0")
	for _, to := range []netip.Addr{b.IPv4(), b.IPv6()} {
		if _, err := c2.WriteToUDPAddrPort([]byte("ping"), netip.AddrPortFrom(to, uint16(l.LocalAddr().(*net.UDPAddr).Port))); err != nil {
			t.Fatal(err)
		}
	}
	silent(t, l, "a → b while cut")
	lab.Heal(a, b)
	// One probe checks the healed path: without the loss, which would
	// drop it one time in fifty (TCP above recovered from it).
	wan.Set(oneWay, 0)
	if d := rtt(t, a, l, b.IPv4()); d < 2*oneWay {
		t.Fatalf("a → b after the heal: round trip %v, want the WAN's %v at least", d, 2*oneWay)
	}
}
