package main

import (
	"fmt"
	"slices"
	"sort"
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
	const rounds = 5 // of each, interleaved
	s := startSitesLab(b, 2)
	st, err := s.c.status(s.c.nodes[0])
	if err != nil {
		b.Fatal(err)
	}
	captures := map[*labSite]*netlab.Capture{}
	for _, site := range s.sites {
		captures[site] = site.phones[0].host.CaptureUDPBothWays()
	}
	b.ResetTimer()
	for range b.N {
		ring := map[bool][]time.Duration{}              // WAN on? → INVITE→180 of every call
		bySite := map[string]map[bool][]time.Duration{} // the same per site
		for r := range 2 * rounds {
			on := r%2 == 1
			if on {
				s.setWAN(wanOneWay, wanLoss)
			} else {
				s.setWAN(0, 0)
			}
			for _, site := range s.sites {
				ds := ringTimes(b, site.phones[0], site.phones[1], captures[site], site.server(), localRoundCalls)
				ring[on] = append(ring[on], ds...)
				if bySite[site.name] == nil {
					bySite[site.name] = map[bool][]time.Duration{}
				}
				bySite[site.name][on] = append(bySite[site.name][on], ds...)
			}
		}
		for _, site := range s.sites {
			leader := ""
			if slices.ContainsFunc(site.nodes, func(cn *clusterNode) bool { return cn.name == st.Raft.Leader }) {
				leader = " (the Raft leader's site)"
			}
			b.Logf("site %s%s: WAN off %s; on %s", site.name, leader, summary(bySite[site.name][false]), summary(bySite[site.name][true]))
		}
		off, on := p99(ring[false]), p99(ring[true])
		ratio := float64(on) / float64(off)
		b.ReportMetric(float64(off)/float64(time.Millisecond), "p99-off-ms")
		b.ReportMetric(float64(on)/float64(time.Millisecond), "p99-on-ms")
		b.ReportMetric(ratio, "p99-ratio")
		b.Logf("INVITE→180 of %d local calls each: WAN off %s; on (%v one way, %.1f %% loss) %s; p99 ratio %.2f",
			len(ring[false]), summary(ring[false]), wanOneWay, 100*wanLoss, summary(ring[true]), ratio)
		if ratio > 1.2 {
			b.Fatalf("a local call's INVITE→180 p99 is %.2f× slower with the WAN delay (%v against %v): something on the local call path crosses the WAN", ratio, on, off)
		}
	}
}

// summary is p50, p99, the largest times and how many took a WAN round
// trip or more (what a call waiting on another site would take).
func summary(ds []time.Duration) string {
	s := slices.Sorted(slices.Values(ds))
	var top []string
	for _, d := range s[max(0, len(s)-3):] {
		top = append(top, d.Round(10*time.Microsecond).String())
	}
	wan := len(s) - sort.Search(len(s), func(i int) bool { return s[i] >= 2*wanOneWay })
	return fmt.Sprintf("p50 %v p99 %v, largest %s, %d of %d ≥ %v", p50(ds).Round(10*time.Microsecond), p99(ds).Round(10*time.Microsecond),
		strings.Join(top, " "), wan, len(s), 2*wanOneWay)
}

// localRoundCalls is how many local calls a round makes in each site.
const localRoundCalls = 30

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
