package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/internal/netlab"
)

// sipMsg is a SIP message a phone received, parsed just enough to check
// the addresses it names.
type sipMsg struct {
	from    netip.AddrPort // who sent it
	start   string         // request or status line
	code    int            // status code; 0 for a request
	headers [][2]string    // lower-case long name, value (one per line)
	raw     string
}

// compact header names (RFC 3261 §7.3.3) of the headers checked.
var compactNames = map[string]string{"v": "via", "m": "contact", "f": "from", "t": "to"}

// parseSIP parses a datagram as a SIP message; false for anything else
// (RTP, keep-alive CRLFs).
func parseSIP(d netlab.Datagram) (sipMsg, bool) {
	text := strings.ReplaceAll(string(d.Payload), "\r\n", "\n")
	head, _, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	m := sipMsg{from: d.From, start: lines[0], raw: string(d.Payload)}
	switch {
	case strings.HasPrefix(m.start, "SIP/2.0 "):
		f := strings.Fields(m.start)
		if len(f) < 2 {
			return m, false
		}
		m.code, _ = strconv.Atoi(f[1]) // a bad code stays 0 and is reported as a request
	case strings.HasSuffix(m.start, " SIP/2.0"):
	default:
		return m, false
	}
	for _, l := range lines[1:] {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(m.headers) > 0 {
			m.headers[len(m.headers)-1][1] += " " + strings.TrimSpace(l) // folded line
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if long, ok := compactNames[name]; ok {
			name = long
		}
		m.headers = append(m.headers, [2]string{name, strings.TrimSpace(value)})
	}
	return m, true
}

// header returns the values of every header called name (long, lower
// case), each comma-separated entry on its own.
func (m sipMsg) header(name string) []string {
	var out []string
	for _, h := range m.headers {
		if h[0] == name {
			out = append(out, splitEntries(h[1])...)
		}
	}
	return out
}

func (m sipMsg) cseqMethod() string {
	if cs := m.header("cseq"); len(cs) > 0 {
		if f := strings.Fields(cs[0]); len(f) == 2 {
			return f[1]
		}
	}
	return ""
}

// splitEntries splits a header value at the commas between entries, not
// those inside quotes or <…>.
func splitEntries(v string) []string {
	var out []string
	quoted, angle, start := false, false, 0
	for i, r := range v {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case r == '<':
			angle = true
		case r == '>':
			angle = false
		case r == ',' && !angle:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

// viaHosts returns the sent-by host of a Via entry and the hosts of its
// received and maddr parameters.
func viaHosts(v string) []string {
	_, rest, ok := strings.Cut(v, " ")
	if !ok {
		return nil
	}
	rest = strings.TrimSpace(rest)
	sentBy, params, _ := strings.Cut(rest, ";")
	return append([]string{hostOfHostPort(sentBy)}, paramHosts(params)...)
}

// uriHosts returns the host of the URI in a name-addr or addr-spec entry
// (Contact, Route, Record-Route, From, To) and of its maddr parameter.
func uriHosts(v string) []string {
	if v == "*" {
		return nil
	}
	uri := v
	if i := strings.IndexByte(v, '<'); i >= 0 {
		uri, _, _ = strings.Cut(v[i+1:], ">")
	} else {
		uri, _, _ = strings.Cut(v, ";")
	}
	_, rest, ok := strings.Cut(uri, ":") // scheme
	if !ok {
		return nil
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	hostPort, params, _ := strings.Cut(rest, ";")
	return append([]string{hostOfHostPort(hostPort)}, paramHosts(params)...)
}

// hostOfHostPort strips the port (and an IPv6 literal's brackets).
func hostOfHostPort(hp string) string {
	hp = strings.TrimSpace(hp)
	if strings.HasPrefix(hp, "[") {
		h, _, _ := strings.Cut(hp[1:], "]")
		return h
	}
	h, _, _ := strings.Cut(hp, ":")
	return h
}

// paramHosts returns the values of the received and maddr parameters.
func paramHosts(params string) []string {
	var out []string
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if k = strings.ToLower(k); k == "received" || k == "maddr" {
			out = append(out, strings.Trim(v, "[]"))
		}
	}
	return out
}

// addressHeaders are the headers whose hosts a phone may send to: Via
// (responses go there), Record-Route and Route (the route set), Contact
// (the remote target), and From/To (some phones send to their host).
var addressHeaders = []string{"via", "record-route", "route", "contact", "from", "to"}

// messages returns the SIP messages the phone has received so far.
func (p *labPhone) messages() []sipMsg {
	var out []sipMsg
	for _, d := range p.capture.Datagrams() {
		if m, ok := parseSIP(d); ok {
			out = append(out, m)
		}
	}
	return out
}

// checkAddresses fails the test for every address in a SIP message the
// phone received that the phone cannot reach (lab.Reaches: loopback,
// unspecified, another subnet not routed to it), or that is not of the
// family the phone signals over, and for every message that came from
// elsewhere than the nodes (phones talk to the nodes only). Host names
// other than "localhost" are not checked (the SIP domain is one). It
// returns how many messages it read.
func checkAddresses(t *testing.T, lab *netlab.Lab, p *labPhone, nodes ...netip.Addr) int {
	t.Helper()
	msgs := p.messages()
	bad := 0
	for _, m := range msgs {
		var problems []string
		if !containsAddr(nodes, m.from.Addr()) {
			problems = append(problems, fmt.Sprintf("sent by %s, not by a node %v", m.from, nodes))
		}
		for _, name := range addressHeaders {
			for _, entry := range m.header(name) {
				if why := p.unreachable(lab, name, entry); why != "" {
					problems = append(problems, why)
				}
			}
		}
		if len(problems) > 0 {
			if bad++; bad <= 3 {
				t.Errorf("%s (at %s) received %q from %s:\n  %s\nmessage:\n%s", p.name, p.addr, m.start, m.from,
					strings.Join(problems, "\n  "), m.raw)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d messages in all name addresses it cannot reach", p.name, bad)
	}
	if len(msgs) == 0 {
		t.Errorf("%s: no SIP message captured", p.name)
	}
	return len(msgs)
}

// unreachable says what is wrong with the hosts a header entry names,
// or "".
func (p *labPhone) unreachable(lab *netlab.Lab, name, entry string) string {
	hosts := uriHosts(entry)
	if name == "via" {
		hosts = viaHosts(entry)
	}
	for _, h := range hosts {
		a, err := netip.ParseAddr(h)
		switch {
		case err != nil && strings.EqualFold(h, "localhost"):
			return fmt.Sprintf("%s %q names localhost", name, entry)
		case err != nil:
			continue // a domain name
		case !lab.Reaches(p.host, a):
			return fmt.Sprintf("%s %q names %s, which %s cannot reach", name, entry, a, p.name)
		case a.Is4() != p.addr.Is4():
			return fmt.Sprintf("%s %q names %s, of another family than %s signals over (%s)", name, entry, a, p.name, p.addr)
		}
	}
	return ""
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, b := range as {
		if b == a.Unmap() {
			return true
		}
	}
	return false
}

// The lab tests' SIP reading finds every host a header names: compact
// forms, several entries per line, IPv6 brackets, received and maddr.
func TestLabSIPCheck_FindsEveryHostAHeaderNames(t *testing.T) {
	raw := "SIP/2.0 200 OK\r\n" +
		"v: SIP/2.0/UDP [fd00::2]:5060;branch=z9hG4bK1;rport=5060;received=192.0.2.9\r\n" +
		"Record-Route: <sip:127.0.0.1:5060;lr>, \"Edge, B\" <sip:10.1.2.1;lr;maddr=10.9.9.9>\r\n" +
		"m: <sip:201@[fd00::3]:5062;transport=udp>;expires=60\r\n" +
		"f: sip:201@ucgrid.local;tag=1\r\n" +
		"Route: <sip:localhost;lr>\r\n" +
		"CSeq: 2 REGISTER\r\n\r\nv=0\r\n"
	m, ok := parseSIP(netlab.Datagram{From: netip.MustParseAddrPort("10.0.0.1:5060"), Payload: []byte(raw)})
	if !ok || m.code != 200 || m.cseqMethod() != "REGISTER" {
		t.Fatalf("parsed %+v, %v", m, ok)
	}
	var got []string
	for _, e := range m.header("via") {
		got = append(got, viaHosts(e)...)
	}
	for _, name := range []string{"record-route", "contact", "from", "route"} {
		for _, e := range m.header(name) {
			got = append(got, uriHosts(e)...)
		}
	}
	want := []string{"fd00::2", "192.0.2.9", "127.0.0.1", "10.1.2.1", "10.9.9.9", "fd00::3", "ucgrid.local", "localhost"}
	if !slices.Equal(got, want) {
		t.Errorf("hosts %q, want %q", got, want)
	}
	if _, ok := parseSIP(netlab.Datagram{Payload: []byte("\x80\x00rtp")}); ok {
		t.Error("an RTP packet parsed as SIP")
	}
}
