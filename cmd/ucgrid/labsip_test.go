package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/baresiptest"
	"github.com/ucgrid/ucgrid/internal/netlab"
	"github.com/ucgrid/ucgrid/internal/testlog"
)

// Phones on other hosts than the node, in the network lab
// (internal/netlab): SIPp and baresip run in their own namespaces, each
// with a capture of every UDP datagram it receives, which the tests read
// back header by header.

const labDomain = "ucgrid.local" // the default --sip-domain

// labPhone is a phone on a lab host: its line, and the address it
// signals from (the host's IPv4 or IPv6 address, port 5060).
type labPhone struct {
	name, number, pw string
	host             *netlab.Host
	addr             netip.Addr
	capture          *netlab.Capture
}

// newLabPhone makes a host for a phone of line number, signalling over
// IPv6 when v6, and starts capturing what it receives.
func newLabPhone(t *testing.T, lab *netlab.Lab, name, number string, v6 bool) *labPhone {
	t.Helper()
	return attachPhone(lab.Host(name), number, v6)
}

// attachPhone makes h the host of a phone of line number (a host made by
// lab.NATHost, for one).
func attachPhone(h *netlab.Host, number string, v6 bool) *labPhone {
	p := &labPhone{name: h.Name(), number: number, pw: "secret-pw-" + number, host: h, addr: h.IPv4()}
	if v6 {
		p.addr = h.IPv6()
	}
	p.capture = h.CaptureUDP()
	return p
}

// sipAddr is an address's host:port form for SIP (IPv6 bracketed).
func sipAddr(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// provisionPhones creates, through the HTTP API at addr, a user and a
// line with a SIP password per phone (the line is the user's primary).
func provisionPhones(t testing.TB, addr string, phones ...*labPhone) {
	t.Helper()
	for _, p := range phones {
		mustAPI(t, addr, http.MethodPut, "/v1/users/"+p.name, map[string]any{"display_name": p.name})
		mustAPI(t, addr, http.MethodPut, "/v1/lines/"+p.number, map[string]any{"owner": p.name, "sip_password": p.pw})
	}
}

// ringAllGroup creates a ring_all call group on number with members.
func ringAllGroup(t *testing.T, addr, id, number string, members ...*labPhone) {
	t.Helper()
	var ms []map[string]any
	for _, p := range members {
		ms = append(ms, map[string]any{"user": p.name})
	}
	mustAPI(t, addr, http.MethodPut, "/v1/groups/"+id, map[string]any{"name": id, "active": true, "members": ms,
		"call_group": map[string]any{"mode": "sip", "number": number, "strategy": "ring_all", "ring_timeout_s": 20}})
}

// mustAPI sends an admin request and fails the test unless it succeeds.
func mustAPI(t testing.TB, addr, method, path string, body any) string {
	t.Helper()
	code, out, _ := apiCall(t, method, addr, path, body)
	if code < 200 || code > 299 {
		t.Fatalf("%s %s on %s: %d %s", method, path, addr, code, out)
	}
	return out
}

// sippLab is one SIPp process in a phone's namespace.
type sippLab struct {
	name  string
	phone *labPhone
	out   testlog.Buffer
	errs  string // the error file
	done  chan error
}

// needSIPp skips the test when sipp is not installed, and fails it
// instead under UCGRID_REQUIRE_PEERS.
func needSIPp(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		if os.Getenv("UCGRID_REQUIRE_PEERS") != "" {
			t.Fatal("sipp not installed (make test-deps installs sip-tester)")
		}
		t.Skip("sipp not installed: run make test-deps")
	}
}

// runSIPp starts SIPp scenario (testdata/sipp, or a path) as phone p
// against the node at server, on port 5060 of the phone's address, with
// the line's credentials.
func runSIPp(t testing.TB, p *labPhone, scenario string, server string, args ...string) *sippLab {
	t.Helper()
	// SIPp digests the uri remote_ip:remote_port, an IPv6 address
	// unbracketed (not a URI a server can match): give it the server's
	// address as a URI host.
	creds := []string{"-key", "caller", p.number, "-au", p.number, "-ap", p.pw, "-auth_uri", server}
	return startLabSIPp(t, p, scenario, server, append(creds, args...)...)
}

// startLabSIPp starts SIPp scenario on p's host, port 5060 of its
// address, toward server, with args after the common ones.
func startLabSIPp(t testing.TB, p *labPhone, scenario string, server string, args ...string) *sippLab {
	t.Helper()
	needSIPp(t)
	sf := scenario
	if !strings.Contains(scenario, "/") {
		sf = filepath.Join("testdata", "sipp", scenario)
	}
	abs, err := filepath.Abs(sf)
	if err != nil {
		t.Fatal(err)
	}
	r := &sippLab{name: p.name + " " + filepath.Base(scenario), phone: p, errs: filepath.Join(t.TempDir(), "err.log"), done: make(chan error, 1)}
	all := append([]string{"-sf", abs, "-i", p.addr.String(), "-p", "5060", "-m", "1", "-nostdin",
		"-timeout", "20", "-timeout_error", "-key", "domain", labDomain, "-trace_err", "-error_file", r.errs}, args...)
	cmd := p.host.Command("sipp", append(all, server)...)
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = cmd.Process.Kill() // a scenario that did not finish
			<-r.done
		}
	})
	return r
}

// wait fails the test unless the scenario passes within d.
func (r *sippLab) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the clean-up
		if err != nil {
			b, _ := os.ReadFile(r.errs) // absent when SIPp logged nothing
			t.Fatalf("sipp %s: %v\n%s\n%s", r.name, err, lastLines(r.out.String(), 30), b)
		}
	case <-time.After(d):
		t.Fatalf("sipp %s did not finish within %v", r.name, d)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// registerSIPp registers phone p's line from its port 5060 (where its
// answering scenario runs next) and waits for the 200.
func registerSIPp(t testing.TB, p *labPhone, server string) {
	t.Helper()
	runSIPp(t, p, "register.xml", server).wait(t, 20*time.Second)
}

// baresipCtrl is where baresip takes commands (ctrl_tcp, on the loopback
// of the phone's own namespace).
const baresipCtrl = "127.0.0.1:4444"

// startLabBaresip runs baresip as phone p (headless, auto-answer, the
// node at server as outbound proxy, on port 5060 of the phone's address,
// commands on baresipCtrl) and waits until the node accepted its
// registration. extra are more config lines (one already there is not
// repeated).
func startLabBaresip(t *testing.T, p *labPhone, server string, extra ...string) {
	t.Helper()
	lines := baresiptest.Config(sipAddr(p.addr, 5060), "module_app menu.so", "module_app ctrl_tcp.so", "ctrl_tcp_listen "+baresipCtrl)
	for _, l := range extra {
		if !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;outbound=\"sip:%s\";regint=600;answermode=auto", p.number, labDomain, p.pw, server)
	baresiptest.Start(t, p.name, p.host.Command, lines, account)
	p.waitResponse(t, 15*time.Second, "REGISTER", 200)
}

// waitResponse waits until the phone has received a response with code
// to a method request.
func (p *labPhone) waitResponse(t *testing.T, within time.Duration, method string, code int) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, m := range p.messages() {
			if m.code == code && m.cseqMethod() == method {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s received no %d to %s within %v", p.name, code, method, within)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// labNode is a single node on a lab host.
type labNode struct {
	host *netlab.Host
	http string // host:port of its HTTP API (on the host's IPv4)
	proc *proc
}

// startLabNode starts a single node on host h: HTTP on its IPv4 address,
// SIP (UDP and TCP) on sipBind, Raft and gossip on its own loopback.
func startLabNode(t *testing.T, h *netlab.Host, sipBind string, extra ...string) *labNode {
	t.Helper()
	n := &labNode{host: h, http: sipAddr(h.IPv4(), 8080)}
	n.proc = startWrapped(t, h.Wrap(), append([]string{"--data", filepath.Join(t.TempDir(), "data"), "--http", n.http,
		"--sip", sipBind, "--admin-password", testAdminPW}, extra...)...)
	n.proc.waitServing(clusterStart)
	return n
}

// baresipCommand has phone p's baresip run a command (menu's: "hangup",
// "dial NUMBER", …) and fails the test unless it says ok. ctrl_tcp
// speaks JSON in netstrings.
func baresipCommand(t *testing.T, p *labPhone, command string) {
	t.Helper()
	var conn net.Conn
	if err := p.host.Do(func() (err error) { conn, err = net.DialTimeout("tcp", baresipCtrl, 5*time.Second); return err }); err != nil {
		t.Fatalf("baresip %s: ctrl_tcp: %v", p.name, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second)) // on an open connection: cannot fail
	verb, params, _ := strings.Cut(command, " ")
	req, _ := json.Marshal(map[string]string{"command": verb, "params": params, "token": "t"}) // strings only: cannot fail
	if _, err := fmt.Fprintf(conn, "%d:%s,", len(req), req); err != nil {
		t.Fatalf("baresip %s: %s: %v", p.name, command, err)
	}
	// Events may come first: read netstrings until the response.
	rd := bufio.NewReader(conn)
	for {
		size, err := rd.ReadString(':')
		if err != nil {
			t.Fatalf("baresip %s: %s: no response: %v", p.name, command, err)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(size, ":"))
		if err != nil {
			t.Fatalf("baresip %s: %s: bad netstring length %q", p.name, command, size)
		}
		body := make([]byte, n+1) // and the trailing comma
		if _, err := io.ReadFull(rd, body); err != nil {
			t.Fatalf("baresip %s: %s: %v", p.name, command, err)
		}
		var res struct {
			Response, OK bool
			Data         string
		}
		if json.Unmarshal(body[:n], &res) == nil && res.Response {
			if !res.OK {
				t.Fatalf("baresip %s: %s: %s", p.name, command, res.Data)
			}
			return
		}
	}
}
