package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/netlab"
)

// BenchmarkLab_LocalCallWANDelay: in the three-site lab, local calls
// (caller and callee in the same site, through that site's first node)
// in rounds with the WAN between the sites off (no delay, no loss) and
// on (20 ms one way, 0.5 % loss), interleaved in the same lab:
// off, on, off, on, … Each round makes localRoundCalls calls in turn in
// every site. It reports the INVITE→180 p99 of each (from the
// authenticated INVITE the caller sent to the first 180 it received, on
// the caller's wire) and their ratio,
// and fails when the WAN makes the local p99 more than 1.2 times slower:
// nothing on a local call's path may wait for another site.
//
//	go test -run '^$' -bench BenchmarkLab_LocalCallWANDelay -benchtime 1x ./cmd/ucgrid/
func BenchmarkLab_LocalCallWANDelay(b *testing.B) {
	const rounds = 3 // of each, interleaved
	s := startSitesLab(b, 2)
	captures := map[*labSite]*netlab.Capture{}
	for _, site := range s.sites {
		captures[site] = site.phones[0].host.CaptureUDPBothWays()
	}
	b.ResetTimer()
	for range b.N {
		ring := map[bool][]time.Duration{} // WAN on? → INVITE→180 of every call
		for r := range 2 * rounds {
			on := r%2 == 1
			if on {
				s.setWAN(wanOneWay, wanLoss)
			} else {
				s.setWAN(0, 0)
			}
			for _, site := range s.sites {
				ring[on] = append(ring[on], ringTimes(b, site.phones[0], site.phones[1], captures[site], site.server(), localRoundCalls)...)
			}
		}
		off, on := p99(ring[false]), p99(ring[true])
		ratio := float64(on) / float64(off)
		b.ReportMetric(float64(off)/float64(time.Millisecond), "p99-off-ms")
		b.ReportMetric(float64(on)/float64(time.Millisecond), "p99-on-ms")
		b.ReportMetric(ratio, "p99-ratio")
		b.Logf("INVITE→180 of %d local calls each: WAN off p50 %v p99 %v; on (%v one way, %.1f %% loss) p50 %v p99 %v; p99 ratio %.2f",
			len(ring[false]), p50(ring[false]).Round(10*time.Microsecond), off.Round(10*time.Microsecond), wanOneWay, 100*wanLoss, p50(ring[true]).Round(10*time.Microsecond), on.Round(10*time.Microsecond), ratio)
		if ratio > 1.2 {
			b.Fatalf("a local call's INVITE→180 p99 is %.2f× slower with the WAN delay (%v against %v): something on the local call path crosses the WAN", ratio, on, off)
		}
	}
}

// localRoundCalls is how many local calls a round makes in each site.
const localRoundCalls = 20

// ringTimes has caller make n calls in turn to callee through server
// (SIPp uac_ring.xml and uas_ring.xml) and returns each call's
// INVITE→180 time, as the caller's host saw it on the wire (capture, a
// capture of both ways of the caller's host): from the authenticated
// INVITE it sent to the first 180 it received. It fails unless every
// call succeeds and rang.
func ringTimes(t testing.TB, caller, callee *labPhone, capture *netlab.Capture, server string, n int) []time.Duration {
	t.Helper()
	mark := len(capture.Datagrams())
	answers := runSIPp(t, callee, "uas_ring.xml", server, "-m", strconv.Itoa(n))
	answers.ready(t)
	runSIPp(t, caller, "uac_ring.xml", server, "-key", "callee", callee.number,
		"-m", strconv.Itoa(n), "-l", "1", "-r", "100").wait(t, time.Duration(n)*5*time.Second)
	answers.wait(t, 10*time.Second)
	sent, rang := map[string]time.Time{}, map[string]time.Time{} // Call-ID → authenticated INVITE sent, first 180
	var calls []string
	for _, d := range capture.Datagrams()[mark:] {
		m, ok := parseSIP(d)
		if !ok {
			continue
		}
		id := strings.Join(m.header("call-id"), "")
		switch {
		case d.Sent && m.code == 0 && m.cseqMethod() == "INVITE" && strings.HasPrefix(strings.Join(m.header("cseq"), ""), "2 "):
			if _, ok := sent[id]; !ok {
				sent[id] = d.At
				calls = append(calls, id)
			}
		case !d.Sent && m.code == 180:
			if _, ok := rang[id]; !ok {
				rang[id] = d.At
			}
		}
	}
	var ds []time.Duration
	for _, id := range calls {
		if at, ok := rang[id]; ok {
			ds = append(ds, at.Sub(sent[id]))
		}
	}
	if len(calls) != n || len(ds) != n {
		t.Fatalf("%s's calls to %s: %d authenticated INVITEs sent and %d answered with a 180, want %d", caller.name, callee.name, len(calls), len(ds), n)
	}
	return ds
}

// p99 and p50 are nearest-rank percentiles.
func p99(ds []time.Duration) time.Duration { return percentile(ds, 0.99) }
func p50(ds []time.Duration) time.Duration { return percentile(ds, 0.50) }

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
