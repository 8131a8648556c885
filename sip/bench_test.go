package sip

import (
	"net"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRegisterDigest is one phone registering again and again, each
// time the whole exchange: REGISTER, 401 with a fresh nonce, REGISTER
// with the digest response, the binding written through the directory
// (a Raft apply on Pebble), 200. Reports registers/s.
func BenchmarkRegisterDigest(b *testing.B) {
	e := newEnv(b)
	e.user("anna", "100", "anna-secret")
	p := newPhone(b, e, "100", "anna-secret")
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if res := p.register(300); res.StatusCode != 200 {
			b.Fatalf("register: %d", res.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "registers/s")
}

// BenchmarkGroupInviteTo180 is a call from a line to a ring_all group
// of three members, one phone each: the time from sending the
// authenticated INVITE (after the 407) to the caller receiving the 180
// (digest check, ring plan, fork to the three phones, their 180
// relayed); then the caller cancels and the proxy cancels every branch
// before the next call. Reports the INVITE→180 median and p99; ns/op is
// the whole cycle (407, INVITE, 180, CANCEL, 487).
func BenchmarkGroupInviteTo180(b *testing.B) { benchGroupInvite(b, "127.0.0.1:0") }

// BenchmarkGroupInviteTo180Wildcard is BenchmarkGroupInviteTo180 with
// the server bound to 0.0.0.0: every Via, Record-Route and Contact names
// the address toward the peer (the cached route lookup of addr.go).
func BenchmarkGroupInviteTo180Wildcard(b *testing.B) { benchGroupInvite(b, "0.0.0.0:0") }

func benchGroupInvite(b *testing.B, bind string) {
	e := newEnv(b, func(c *Config) { c.Addr = bind })
	_, port, _ := net.SplitHostPort(e.srv.Addr())
	phone := func(number, pw string) *phone {
		p := newPhone(b, e, number, pw)
		p.proxy = net.JoinHostPort("127.0.0.1", port) // the wildcard's [::] is no destination
		return p
	}
	e.user("alice", "1001", "a-pw")
	var members []string
	for i := range 3 {
		id, number := "m"+strconv.Itoa(i), "210"+strconv.Itoa(i)
		e.user(id, number, "pw")
		if res := phone(number, "pw").register(300); res.StatusCode != 200 {
			b.Fatalf("register %s: %d", number, res.StatusCode)
		}
		members = append(members, id)
	}
	e.group("desk", "700", "ring_all", members, nil)
	caller := phone("1001", "a-pw")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := caller.call("700") // returns once the authenticated INVITE is sent
		t0 := time.Now()
		c.wait(180, 5*time.Second)
		lat = append(lat, time.Since(t0))
		c.cancel()
		c.wait(487, 5*time.Second)
	}
	b.StopTimer()
	eventually(b, 10*time.Second, "calls drained", func() bool { return e.srv.calls.len() == 0 })
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "µs-to-180-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "µs-to-180-p99")
}
