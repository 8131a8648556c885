package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLab_LocalCallWANDelay: in the three-site lab, local calls
// (caller and callee in the same site, through that site's first node)
// in rounds with the WAN between the sites off (no delay, no loss) and
// on (20 ms one way, 0.5 % loss), interleaved in the same lab:
// off, on, off, on, … Each round makes localRoundCalls calls in turn in
// every site. It reports the INVITE→180 p99 of each (SIPp's response
// time from the authenticated INVITE to the first 180) and their ratio,
// and fails when the WAN makes the local p99 more than 1.2 times slower:
// nothing on a local call's path may wait for another site.
//
//	go test -run '^$' -bench BenchmarkLab_LocalCallWANDelay -benchtime 1x ./cmd/ucgrid/
func BenchmarkLab_LocalCallWANDelay(b *testing.B) {
	const rounds = 3 // of each, interleaved
	s := startSitesLab(b, 2)
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
				ring[on] = append(ring[on], ringTimes(b, site.phones[0], site.phones[1], site.server(), localRoundCalls)...)
			}
		}
		off, on := p99(ring[false]), p99(ring[true])
		ratio := float64(on) / float64(off)
		b.ReportMetric(float64(off)/float64(time.Millisecond), "p99-off-ms")
		b.ReportMetric(float64(on)/float64(time.Millisecond), "p99-on-ms")
		b.ReportMetric(ratio, "p99-ratio")
		b.Logf("INVITE→180 of %d local calls each: WAN off p50 %v p99 %v; on (%v one way, %.1f %% loss) p50 %v p99 %v; p99 ratio %.2f",
			len(ring[false]), p50(ring[false]), off, wanOneWay, 100*wanLoss, p50(ring[true]), on, ratio)
		if ratio > 1.2 {
			b.Fatalf("a local call's INVITE→180 p99 is %.2f× slower with the WAN delay (%v against %v): something on the local call path crosses the WAN", ratio, on, off)
		}
	}
}

// localRoundCalls is how many local calls a round makes in each site.
const localRoundCalls = 20

// ringTimes has caller make n calls in turn to callee through server
// (SIPp uac_ring.xml and uas_ring.xml) and returns each call's
// INVITE→180 time; it fails unless every call succeeds.
func ringTimes(t testing.TB, caller, callee *labPhone, server string, n int) []time.Duration {
	t.Helper()
	answers := runSIPp(t, callee, "uas_ring.xml", server, "-m", strconv.Itoa(n))
	answers.ready(t)
	sf, err := filepath.Abs(filepath.Join("testdata", "sipp", "uac_ring.xml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // SIPp writes its -trace_rtt file in its working directory
	cmd := caller.host.Command("sipp", "-sf", sf, "-i", caller.addr.String(), "-p", "5060", "-m", strconv.Itoa(n),
		"-l", "1", "-r", "100", "-nostdin", "-timeout", "60", "-timeout_error", "-key", "domain", labDomain,
		"-key", "caller", caller.number, "-key", "callee", callee.number, "-au", caller.number, "-ap", caller.pw,
		"-auth_uri", server, "-trace_rtt", "-rtt_freq", "1", server)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp %s calls %s %d times: %v\n%s", caller.name, callee.name, n, err, lastLines(string(out), 30))
	}
	answers.wait(t, 10*time.Second)
	files, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv")) // the pattern is valid
	if len(files) != 1 {
		t.Fatalf("sipp wrote %d -trace_rtt files in %s, want 1", len(files), dir)
	}
	ds := readRing(t, files[0])
	if len(ds) != n {
		t.Fatalf("sipp measured INVITE→180 of %d calls, want %d", len(ds), n)
	}
	return ds
}

// readRing reads the "ring" response times of a SIPp -trace_rtt file
// (date_ms;response_time_ms;rtd).
func readRing(t testing.TB, path string) []time.Duration {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.FieldsPerRecord, r.TrimLeadingSpace = ';', -1, true
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var ds []time.Duration
	for _, row := range rows {
		if len(row) < 3 || strings.TrimSpace(row[2]) != "ring" {
			continue // the header
		}
		ms, err := strconv.ParseFloat(row[1], 64)
		if err != nil {
			t.Fatalf("%s: response time %q: %v", path, row[1], err)
		}
		ds = append(ds, time.Duration(ms*float64(time.Millisecond)))
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
