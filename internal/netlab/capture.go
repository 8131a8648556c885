package netlab

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Datagram is one UDP datagram a host received (or sent, in a capture
// of both ways).
type Datagram struct {
	From, To netip.AddrPort
	Payload  []byte
	At       time.Time
	Sent     bool // the host sent it (CaptureUDPBothWays only)
}

// Capture records every UDP datagram arriving at a host from the network
// (not the ones it sends, nor its loopback traffic), whatever program
// receives it: a test sees what a SIPp or baresip phone was sent without
// the phone's cooperation. Safe for concurrent use.
type Capture struct {
	fd   int
	both bool // sent datagrams too
	mu   sync.Mutex
	got  []Datagram
	stop chan struct{}
	done chan struct{}
}

// CaptureUDP starts capturing on every interface of the host (a raw
// AF_PACKET socket opened in its namespace); it stops in t.Cleanup.
func (h *Host) CaptureUDP() *Capture {
	h.lab.t.Helper()
	return h.capture(false)
}

// CaptureUDPBothWays is CaptureUDP recording also what the host sends
// to the network (Datagram.Sent): a test times a request the host sent
// against the response it got, to the microsecond.
func (h *Host) CaptureUDPBothWays() *Capture {
	h.lab.t.Helper()
	return h.capture(true)
}

func (h *Host) capture(both bool) *Capture {
	h.lab.t.Helper()
	c := &Capture{both: both, stop: make(chan struct{}), done: make(chan struct{})}
	err := h.Do(func() (err error) {
		c.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		// Reads wake up this often to see whether the capture stopped.
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
		return unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	if err != nil {
		h.lab.t.Fatalf("network lab: capture in %s: %v", h.name, err)
	}
	go c.loop()
	h.lab.t.Cleanup(c.Stop)
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *Capture) loop() {
	defer close(c.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		sent := ok && ll.Pkttype == unix.PACKET_OUTGOING
		if !ok || (sent && !c.both) || ll.Pkttype == unix.PACKET_LOOPBACK {
			continue
		}
		if d, ok := parseUDP(buf[:n]); ok && !d.From.Addr().IsLoopback() && !d.To.Addr().IsLoopback() {
			d.At, d.Sent = time.Now(), sent
			c.mu.Lock()
			c.got = append(c.got, d)
			c.mu.Unlock()
		}
	}
}

// parseUDP reads an IPv4 or IPv6 packet carrying a whole UDP datagram
// (no fragments, no IPv6 extension headers: the lab's SIP traffic has
// neither).
func parseUDP(p []byte) (Datagram, bool) {
	var d Datagram
	var src, dst netip.Addr
	var udp []byte
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		ihl := int(p[0]&0x0f) * 4
		fragmented := binary.BigEndian.Uint16(p[6:8])&0x3fff != 0
		if p[9] != unix.IPPROTO_UDP || fragmented || len(p) < ihl+8 {
			return d, false
		}
		src, dst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		udp = p[ihl:]
	case len(p) >= 48 && p[0]>>4 == 6:
		if p[6] != unix.IPPROTO_UDP {
			return d, false
		}
		src, dst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		udp = p[40:]
	default:
		return d, false
	}
	size := int(binary.BigEndian.Uint16(udp[4:6]))
	if size < 8 || size > len(udp) {
		return d, false
	}
	d.From = netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:2]))
	d.To = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(udp[2:4]))
	d.Payload = append([]byte(nil), udp[8:size]...)
	return d, true
}

// Datagrams returns what was captured so far, oldest first.
func (c *Capture) Datagrams() []Datagram {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Datagram(nil), c.got...)
}

// Stop ends the capture; Datagrams still answers. Stopping twice is
// harmless.
func (c *Capture) Stop() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		<-c.done
		_ = unix.Close(c.fd) // a packet socket's close has nothing to flush
	}
}

// Reaches tells whether a packet that host from sends to address to
// arrives: to is one of from's own addresses, or the address of a router
// or host on a lab subnet that no Cut (or MultiHomed side) separates from
// from. Loopback and unspecified addresses never count: written in a
// message from another host they name that host, which from's loopback
// is not. A NAT host's private LAN is reached from that host only.
func (l *Lab) Reaches(from *Host, to netip.Addr) bool {
	to = to.Unmap()
	if to.IsLoopback() || to.IsUnspecified() || !to.IsValid() {
		return false
	}
	for _, a := range from.addrs {
		if a == to {
			return true
		}
	}
	k, ok := l.subnetOf(to)
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range from.subnets {
		if _, cut := l.cuts[[2]int{s, k}]; !cut || s == k {
			return true
		}
	}
	return false
}

// subnetOf returns the lab subnet of a router-side address (.1 or .2,
// ::1 or ::2 of a subnet handed out, or the test's link).
func (l *Lab) subnetOf(a netip.Addr) (int, bool) {
	var k, host int
	switch {
	case a.Is4():
		b := a.As4()
		if b[0] != 10 || int(b[1]) != l.octet {
			return 0, false
		}
		k, host = int(b[2]), int(b[3])
	default:
		b := a.As16()
		if [6]byte(b[:6]) != l.ula || b[6] != 0 || binary.BigEndian.Uint64(b[8:16]) > 2 {
			return 0, false
		}
		k, host = int(b[7]), int(b[15])
	}
	if (host != 1 && host != 2) || (k > l.nets && k != testNet) || k == 0 {
		return 0, false
	}
	return k, true
}
