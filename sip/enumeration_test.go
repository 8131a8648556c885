package sip

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// exchange sends msg (with %s for a fresh Call-ID) from conn and returns
// the final answer and how long it took.
func exchange(t *testing.T, r *rawUDP, msg string) (string, time.Duration) {
	t.Helper()
	id := "enum-" + sipTag()
	start := time.Now()
	if _, err := r.conn.WriteTo([]byte(fmt.Sprintf(msg, id, id)), r.srv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	_ = r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := r.conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		res := string(buf[:n])
		if strings.Contains(res, "Call-ID: "+id+"\r\n") && !strings.HasPrefix(res, "SIP/2.0 100") {
			return res, time.Since(start)
		}
	}
}

func sipTag() string { return fmt.Sprint(time.Now().UnixNano()) }

// shape is what an answer tells apart from its values: the status line
// and the header names in order.
func shape(res string) string {
	lines := strings.Split(strings.TrimSpace(res), "\r\n")
	out := []string{lines[0]}
	for _, l := range lines[1:] {
		name, _, _ := strings.Cut(l, ":")
		out = append(out, name)
	}
	return strings.Join(out, "|")
}

func request(method, number, extra string) string {
	ruri := "sip:" + number + "@" + testDomain
	to := "<sip:" + number + "@" + testDomain + ">"
	from := "<sip:" + number + "@" + testDomain + ">;tag=e"
	if method == "REGISTER" {
		ruri = "sip:" + testDomain
	}
	return method + " " + ruri + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.5:5099;rport;branch=z9hG4bK%s\r\n" +
		"To: " + to + "\r\nFrom: " + from + "\r\nCall-ID: %s\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\n" +
		"Contact: <sip:" + number + "@127.0.0.5:5099>\r\nEvent: presence\r\nAccept: application/pidf+xml\r\nExpires: 300\r\n" +
		extra + "Content-Length: 0\r\n\r\n"
}

// An outsider cannot tell existing numbers from missing ones: REGISTER,
// INVITE, OPTIONS and SUBSCRIBE get answers of the same status and
// headers (the challenge or 200), wrong credentials the same 403, and in
// about the same time.
func TestEnumeration_ExistingAndMissingLinesAnswerAlike(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.AuthFailures, c.LinePairFailures, c.LineFailures = 1000, 1000, 1000
		c.Hub = newFakeHub()
	})
	e.user("alice", "1001", "a-pw")
	r := newRawUDP(t, "127.0.0.5:0", e.srv.Addr())
	const rounds = 15
	for _, method := range []string{"REGISTER", "INVITE", "OPTIONS", "SUBSCRIBE"} {
		var times [2][]time.Duration
		var shapes [2]string
		for i, number := range []string{"1001", "1099"} {
			for range rounds {
				res, took := exchange(t, r, request(method, number, ""))
				times[i] = append(times[i], took)
				shapes[i] = shape(res)
			}
		}
		if shapes[0] != shapes[1] {
			t.Errorf("%s: existing line answered %q, missing %q", method, shapes[0], shapes[1])
		}
		compareTimes(t, method, times)
	}
	// Wrong credentials: the same 403 for both.
	for _, method := range []string{"REGISTER", "INVITE", "SUBSCRIBE"} {
		hdr, chalHdr := "Authorization", "WWW-Authenticate"
		if method == "INVITE" {
			hdr, chalHdr = "Proxy-Authorization", "Proxy-Authenticate"
		}
		var shapes [2]string
		var times [2][]time.Duration
		for i, number := range []string{"1001", "1099"} {
			for range rounds {
				chal, _ := exchange(t, r, request(method, number, ""))
				c := headerValue(chal, chalHdr)
				ch, err := digest.ParseChallenge(c)
				if err != nil {
					t.Fatalf("%s: challenge %q: %v", method, c, err)
				}
				uri := "sip:" + number + "@" + testDomain
				if method == "REGISTER" {
					uri = "sip:" + testDomain
				}
				cred, err := digest.Digest(ch, digest.Options{Method: method, URI: uri, Username: number, Password: "guess", Count: 1, Cnonce: "c"})
				if err != nil {
					t.Fatal(err)
				}
				res, took := exchange(t, r, request(method, number, hdr+": "+cred.String()+"\r\n"))
				shapes[i] = shape(res)
				times[i] = append(times[i], took)
			}
		}
		if shapes[0] != shapes[1] || !strings.HasPrefix(shapes[0], "SIP/2.0 403") {
			t.Errorf("%s with a wrong password: existing line answered %q, missing %q (want the same 403)", method, shapes[0], shapes[1])
		}
		compareTimes(t, method+" with a wrong password", times)
	}
}

func headerValue(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if n, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// compareTimes fails when the median answer times of existing and
// missing lines differ grossly (more than 3x and 5 ms): a directory or
// backend lookup only one of them pays would show.
func compareTimes(t *testing.T, what string, times [2][]time.Duration) {
	t.Helper()
	med := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	a, b := med(times[0]), med(times[1])
	hi, lo := max(a, b), min(a, b)
	if hi-lo > 5*time.Millisecond && hi > 3*lo {
		t.Errorf("%s: median answer time %v for an existing line, %v for a missing one", what, a, b)
	}
}
