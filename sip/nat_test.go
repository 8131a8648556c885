package sip

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestStampDatagram_AddsReceivedAndRport(t *testing.T) {
	src := &net.UDPAddr{IP: net.ParseIP("203.0.113.9"), Port: 40123}
	for _, tc := range []struct {
		name, via, want string
	}{
		{"private sent-by, no rport: forced", "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa",
			"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa;received=203.0.113.9;rport=40123"},
		{"private sent-by, empty rport", "Via: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bKa",
			"Via: SIP/2.0/UDP 10.0.0.5:5060;rport=40123;branch=z9hG4bKa;received=203.0.113.9"},
		{"compact name, default port", "v: SIP/2.0/UDP phone.example;branch=z9hG4bKa",
			"Via: SIP/2.0/UDP phone.example;branch=z9hG4bKa;received=203.0.113.9;rport=40123"},
		{"the source itself: untouched", "Via: SIP/2.0/UDP 203.0.113.9:40123;branch=z9hG4bKa",
			"Via: SIP/2.0/UDP 203.0.113.9:40123;branch=z9hG4bKa"},
		{"the source itself, rport asked: filled", "Via: SIP/2.0/UDP 203.0.113.9:40123;branch=z9hG4bKa;rport",
			"Via: SIP/2.0/UDP 203.0.113.9:40123;branch=z9hG4bKa;rport=40123;received=203.0.113.9"},
		{"only the top value of a list", "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKb",
			"Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa;received=203.0.113.9;rport=40123, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := "OPTIONS sip:x@example.com SIP/2.0\r\n" + tc.via + "\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n"
			got := string(stampDatagram([]byte(in), src))
			if want := strings.Replace(in, tc.via, tc.want, 1); got != want {
				t.Errorf("got\n%q\nwant\n%q", got, want)
			}
		})
	}
	resp := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa\r\n\r\n"
	if got := string(stampDatagram([]byte(resp), src)); got != resp {
		t.Errorf("a response was changed: %q", got)
	}
}

func TestStampVia_IPv6Source(t *testing.T) {
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "[fd00::5]", Port: 5060, Params: sip.NewParams()}
	v.Params.Add("rport", "")
	if !stampVia(v, netip.MustParseAddrPort("[2001:db8::9]:40000")) {
		t.Fatal("not stamped")
	}
	if r, _ := v.Params.Get("received"); r != "2001:db8::9" {
		t.Errorf("received %q", r)
	}
	if p, _ := v.Params.Get("rport"); p != "40000" {
		t.Errorf("rport %q", p)
	}
}

func TestNatted(t *testing.T) {
	for _, tc := range []struct {
		name, transport, source, via, contact string
		want                                  bool
	}{
		{"all the source", "UDP", "192.0.2.5:5060", "192.0.2.5:5060", "sip:1@192.0.2.5:5060", false},
		{"contact on another listener port", "UDP", "192.0.2.5:5060", "192.0.2.5:5060", "sip:1@192.0.2.5:5072;transport=tcp", false},
		{"private contact", "UDP", "198.51.100.1:40000", "198.51.100.1:40000", "sip:1@10.0.0.5:5060", true},
		{"private via", "UDP", "198.51.100.1:5060", "10.0.0.5:5060", "sip:1@198.51.100.1:5060", true},
		{"port rewritten by the NAT", "UDP", "198.51.100.1:40000", "198.51.100.1:5060", "sip:1@198.51.100.1:5060", true},
		{"tcp ephemeral source port", "TCP", "192.0.2.5:51234", "192.0.2.5:5060", "sip:1@192.0.2.5:5060;transport=tcp", false},
		{"tcp private contact", "TCP", "198.51.100.1:51234", "10.0.0.5:5060", "sip:1@10.0.0.5:5060;transport=tcp", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "example.com"})
			host, port, _ := net.SplitHostPort(tc.via)
			v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: tc.transport, Host: host, Params: sip.NewParams()}
			v.Port, _ = strconv.Atoi(port) // the table's ports are numbers
			req.AppendHeader(v)
			req.SetTransport(tc.transport)
			req.SetSource(tc.source)
			var c sip.Uri
			if err := sip.ParseUri(tc.contact, &c); err != nil {
				t.Fatal(err)
			}
			if got := natted(req, c); got != tc.want {
				t.Errorf("natted = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFlowToken_VerifiesOnlyItsOwn(t *testing.T) {
	key, other := []byte("k1-0123456789abcdef"), []byte("k2-0123456789abcdef")
	tok := flowToken(key, "udp:198.51.100.1:40000", "")
	if src, ok := verifyFlowToken(key, tok, ""); !ok || src != "udp:198.51.100.1:40000" {
		t.Fatalf("own token: %q %v", src, ok)
	}
	inDialog := flowToken(key, "udp:198.51.100.1:40000", "call-1")
	if _, ok := verifyFlowToken(key, inDialog, "call-1"); !ok {
		t.Fatal("own dialog token refused")
	}
	forged := flowToken(other, "udp:192.0.2.66:5060", "")
	a, _, _ := strings.Cut(forged, ".")
	_, b, _ := strings.Cut(tok, ".")
	for name, bad := range map[string]struct{ token, dialog string }{
		"another key": {forged, ""}, "source swapped": {a + "." + b, ""}, "no mac": {a, ""}, "garbage": {"%%%.%%%", ""},
		"empty": {"", ""}, "short mac": {a + ".AAAA", ""}, "mac tampered": {tamperMAC(tok), ""},
		"a dialog's token for a new call": {inDialog, ""}, "a dialog's token in another dialog": {inDialog, "call-2"},
		"a path token within a dialog": {tok, "call-1"},
	} {
		if _, ok := verifyFlowToken(key, bad.token, bad.dialog); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// natEnv is a server with fast keep-alives and a phone at 127.0.0.1 that
// believes it is at 10.0.0.5:5060, as behind a NAT.
func natEnv(t *testing.T, tweak func(*Config)) (*env, *phone) {
	t.Helper()
	e := newEnv(t, func(c *Config) {
		c.NATPingInterval = 100 * time.Millisecond
		if tweak != nil {
			tweak(c)
		}
	})
	e.user("alice", "1001", "secret")
	e.user("bob", "2001", "secret")
	return e, newPhoneBehind(t, e, "127.0.0.1", "10.0.0.5:5060", "1001", "secret")
}

// TestNAT_PhoneRegistersAndIsCalledOverItsFlow: a phone whose Via and
// Contact name a private address gets its responses at the address and
// port it sent from (a NAT's mapping), is stored as NATed with a short
// expiry and a Path, and is called (and hung up on, both ways) at that
// address, not at its Contact.
func TestNAT_PhoneRegistersAndIsCalledOverItsFlow(t *testing.T) {
	e, nat := natEnv(t, func(c *Config) { c.NATPingInterval = -1 })
	res := nat.register(3600)
	if res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	via := res.Via()
	if r, _ := via.Params.Get("received"); r != "127.0.0.1" {
		t.Errorf("received = %q in %s", r, via.Value())
	}
	if p, _ := via.Params.Get("rport"); p == "" || !strings.HasSuffix(nat.addr, ":"+p) {
		t.Errorf("rport = %q in %s, phone at %s", p, via.Value(), nat.addr)
	}
	regs, err := e.be.Contacts(context.Background(), "1001")
	if err != nil || len(regs) != 1 {
		t.Fatalf("bindings %v %v", regs, err)
	}
	r := regs[0]
	if !r.Nat || r.Source != "udp:"+nat.addr || !strings.Contains(r.Path, "@"+e.srv.host) {
		t.Errorf("binding %v: want nat, source udp:%s and a path through this node", r, nat.addr)
	}
	if left := r.ExpiresAtUnix - time.Now().Unix(); left > 60 {
		t.Errorf("NATed binding granted %ds, want at most NATExpires (60s)", left)
	}

	bob := newPhone(t, e, "2001", "secret")
	for _, calleeHangsUp := range []bool{false, true} {
		call := bob.call("1001")
		ring := nat.waitRinging(5 * time.Second)
		if ring == nil {
			t.Fatal("the NATed phone was not rung at its source address")
		}
		ring.answer <- 200
		call.wait(200, 5*time.Second)
		byes, _ := nat.counts()
		call.ackAndBye(!calleeHangsUp)
		if calleeHangsUp {
			calleeBye(t, nat, ring)
			eventually(t, 5*time.Second, "the NATed phone's BYE reaches the caller", func() bool { n, _ := bob.counts(); return n == 1 })
		} else {
			eventually(t, 5*time.Second, "the caller's BYE reaches the NATed phone", func() bool { n, _ := nat.counts(); return n == byes+1 })
		}
		eventually(t, 5*time.Second, "the call ends", func() bool { return e.srv.calls.len() == 0 })
	}
}

// TestNAT_KeepAlivesThenDeadBindingRemoved: the node pings the NATed
// binding it holds with OPTIONS; when the phone stops answering, the
// binding is removed after NATPingMisses pings, and a new REGISTER puts
// it back.
func TestNAT_KeepAlivesThenDeadBindingRemoved(t *testing.T) {
	e, nat := natEnv(t, nil)
	if res := nat.register(3600); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	answered := e.srv.m.natPings.WithLabelValues("answered")
	eventually(t, 5*time.Second, "two answered pings", func() bool { return counterValue(t, answered) >= 2 })
	if regs, _ := e.be.Contacts(context.Background(), "1001"); len(regs) != 1 {
		t.Fatalf("an answering binding was removed: %v", regs)
	}
	_ = nat.pc.Close() // the phone goes away without unregistering
	eventually(t, 10*time.Second, "the dead binding removed", func() bool {
		regs, _ := e.be.Contacts(context.Background(), "1001")
		return len(regs) == 0
	})
	if got := counterValue(t, e.srv.m.natDropped); got != 1 {
		t.Errorf("dropped %v bindings, want 1", got)
	}
	if e.srv.flows.len() != 0 {
		t.Errorf("%d flows still held", e.srv.flows.len())
	}
	again := newPhoneBehind(t, e, "127.0.0.1", "10.0.0.5:5060", "1001", "secret")
	if res := again.register(3600); res.StatusCode != 200 {
		t.Fatalf("re-register: %d", res.StatusCode)
	}
	if regs, _ := e.be.Contacts(context.Background(), "1001"); len(regs) != 1 || !regs[0].Nat {
		t.Fatalf("re-registered bindings %v", regs)
	}
}

// TestNAT_PlainPhoneNotPinged: a phone that is where it says it is keeps
// its Contact, its requested expiry, and gets no keep-alives.
func TestNAT_PlainPhoneNotPinged(t *testing.T) {
	e, _ := natEnv(t, nil)
	bob := newPhone(t, e, "2001", "secret")
	if res := bob.register(600); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	regs, _ := e.be.Contacts(context.Background(), "2001")
	if len(regs) != 1 || regs[0].Nat || regs[0].Path != "" || regs[0].ExpiresAtUnix-time.Now().Unix() < 500 {
		t.Fatalf("plain binding %v", regs)
	}
	if e.srv.flows.len() != 0 {
		t.Errorf("a plain binding is kept alive")
	}
}

// TestToBinding_Destinations: where a request to a binding goes.
func TestToBinding_Destinations(t *testing.T) {
	e, _ := natEnv(t, nil)
	s := e.srv
	here := s.flowURI("udp:198.51.100.1:40000", "")
	elsewhere := "sip:" + flowToken([]byte("other node"), "udp:198.51.100.2:40000", "") + "@192.0.2.200:5060;lr"
	for _, tc := range []struct {
		name      string
		reg       *dirpb.Registration
		wantDest  string
		wantRoute string
		wantErr   bool
	}{
		{"plain udp: its contact", &dirpb.Registration{Contact: "sip:1@192.0.2.5:5062", Source: "udp:192.0.2.5:5062"}, "192.0.2.5:5062", "", false},
		{"nat udp held here: its source", &dirpb.Registration{Contact: "sip:1@10.0.0.5:5060", Source: "udp:198.51.100.1:40000", Nat: true, Path: here}, "198.51.100.1:40000", "", false},
		{"nat udp held elsewhere: through that node", &dirpb.Registration{Contact: "sip:1@10.0.0.5:5060", Source: "udp:198.51.100.2:40000", Nat: true, Path: elsewhere}, "192.0.2.200:5060", "<" + elsewhere + ">", false},
		{"nat tcp, connection closed: unreachable", &dirpb.Registration{Contact: "sip:1@10.0.0.5:5060;transport=tcp", Source: "tcp:198.51.100.1:50000", Nat: true, Path: here}, "", "", true},
		{"plain tcp, connection closed: its contact", &dirpb.Registration{Contact: "sip:1@192.0.2.5:5062;transport=tcp", Source: "tcp:192.0.2.5:50000"}, "192.0.2.5:5062", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var uri sip.Uri
			if err := sip.ParseUri(tc.reg.Contact, &uri); err != nil {
				t.Fatal(err)
			}
			req := sip.NewRequest(sip.INVITE, uri)
			req.SetDestination(hostPort(uri))
			err := s.toBinding(req, tc.reg)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Destination() != tc.wantDest {
				t.Errorf("destination %s, want %s", req.Destination(), tc.wantDest)
			}
			route := ""
			if h := req.GetHeader("Route"); h != nil {
				route = h.Value()
			}
			if route != tc.wantRoute {
				t.Errorf("route %q, want %q", route, tc.wantRoute)
			}
		})
	}
}

// secondNode starts another server on e's directory and Backend: a node
// of the same cluster, at another port.
func secondNode(t *testing.T, e *env) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := Start(ctx, Config{Addr: "127.0.0.1:0", Domain: testDomain, Store: e.be.store(), Backend: e.be,
		Logger: testLogger(t), Registerer: prometheus.NewRegistry(), NATPingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// TestNAT_CallReachesPhoneThroughTheNodeHoldingItsFlow: a NATed phone
// registered through node B is called from node A: A routes the INVITE
// to B (the binding's Path), B relays it over the phone's flow and
// Record-Routes itself; BYE works both ways through both nodes.
func TestNAT_CallReachesPhoneThroughTheNodeHoldingItsFlow(t *testing.T) {
	e, _ := natEnv(t, func(c *Config) { c.NATPingInterval = -1 })
	b := secondNode(t, e)
	nat := newPhoneBehind(t, e, "127.0.0.1", "10.0.0.5:5060", "1001", "secret")
	nat.proxy = b.Addr()
	if res := nat.register(3600); res.StatusCode != 200 {
		t.Fatalf("register through B: %d", res.StatusCode)
	}
	regs, _ := e.be.Contacts(context.Background(), "1001")
	if len(regs) != 1 || !strings.Contains(regs[0].Path, "@"+b.Addr()) {
		t.Fatalf("binding %v: want a Path through B (%s)", regs, b.Addr())
	}
	bob := newPhone(t, e, "2001", "secret") // calls through A (e.srv)
	for _, calleeHangsUp := range []bool{false, true} {
		call := bob.call("1001")
		ring := nat.waitRinging(5 * time.Second)
		if ring == nil {
			t.Fatal("the NATed phone was not rung through B")
		}
		if rr := ring.req.GetHeaders("Record-Route"); len(rr) < 2 || !strings.Contains(rr[0].Value(), "@"+b.Addr()) {
			t.Fatalf("Record-Route %v: want B's flow URI first", rr)
		}
		ring.answer <- 200
		call.wait(200, 5*time.Second)
		byes, _ := nat.counts()
		bobByes, _ := bob.counts()
		call.ackAndBye(!calleeHangsUp)
		if calleeHangsUp {
			calleeBye(t, nat, ring)
			eventually(t, 5*time.Second, "the NATed phone's BYE reaches the caller", func() bool { n, _ := bob.counts(); return n == bobByes+1 })
		} else {
			eventually(t, 5*time.Second, "the caller's BYE reaches the NATed phone", func() bool { n, _ := nat.counts(); return n == byes+1 })
		}
		eventually(t, 5*time.Second, "the call ends on A", func() bool { return e.srv.calls.len() == 0 })
	}
	// A call the caller gives up on: the CANCEL reaches the phone through B.
	call := bob.call("1001")
	if nat.waitRinging(5*time.Second) == nil {
		t.Fatal("not rung for the cancelled call")
	}
	call.cancel()
	call.wait(487, 5*time.Second)
	eventually(t, 5*time.Second, "the CANCEL reaches the NATed phone through B", func() bool { return nat.cancelCount() == 1 })
}

// TestNAT_ForgedFlowTokenRefused: a request routed to a node with a flow
// token it did not sign gets 403 and goes nowhere.
func TestNAT_ForgedFlowTokenRefused(t *testing.T) {
	e, nat := natEnv(t, func(c *Config) { c.NATPingInterval = -1 })
	if res := nat.register(3600); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	forger := newRawUDP(t, "127.0.0.3:0", e.srv.Addr())
	source := "udp:" + nat.addr
	for name, token := range map[string]string{
		"another key":                     flowToken([]byte("not this node's key"), source, ""),
		"mac tampered":                    tamperMAC(flowToken(e.srv.flowKey, source, "")),
		"another source":                  flowToken([]byte("x"), "", ""),
		"a dialog's token for a new call": flowToken(e.srv.flowKey, source, "an earlier call"),
	} {
		id := "forged-" + sip.GenerateTagN(8)
		msg := "INVITE sip:1001@10.0.0.5:5060 SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + forger.conn.LocalAddr().String() + ";branch=z9hG4bK" + sip.GenerateTagN(10) + "\r\n" +
			"Route: <sip:" + token + "@" + e.srv.Addr() + ";lr>\r\n" +
			"From: <sip:forger@" + testDomain + ">;tag=f1\r\nTo: <sip:1001@" + testDomain + ">\r\n" +
			"Call-ID: " + id + "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" +
			"Contact: <sip:forger@" + forger.conn.LocalAddr().String() + ">\r\nContent-Length: 0\r\n\r\n"
		if _, err := forger.conn.WriteTo([]byte(msg), forger.srv); err != nil {
			t.Fatal(err)
		}
		if got := forger.answer(id, 5*time.Second); !strings.HasPrefix(got, "SIP/2.0 403") {
			t.Errorf("%s: answer %q, want 403", name, got)
		}
	}
	select {
	case r := <-nat.incoming:
		t.Fatalf("a forged token rang the phone: %s", r.req.CallID().Value())
	default:
	}
	if n := counterValue(t, e.srv.m.flowRefused); n != 4 {
		t.Errorf("%v refusals counted, want 4", n)
	}
}

// TestNAT_TLSFlowClosedBindingRemoved: a phone behind a NAT registered
// over TLS is reached over its connection only; once that connection
// closes, the keep-alive check removes the binding (its private Contact
// cannot be dialled).
func TestNAT_TLSFlowClosedBindingRemoved(t *testing.T) {
	certFile, keyFile, pool := testCert(t, t.TempDir())
	e := newEnv(t, func(c *Config) {
		c.TLSAddr, c.TLSCertFile, c.TLSKeyFile = "127.0.0.1:0", certFile, keyFile
		c.NATPingInterval = 100 * time.Millisecond
	})
	e.user("alice", "1001", "secret")
	p := newTLSPhone(t, e, pool, "1001", "secret")
	p.private = "10.0.0.7:5061"
	if res := p.register(3600); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	regs, _ := e.be.Contacts(context.Background(), "1001")
	if len(regs) != 1 || !regs[0].Nat || !strings.HasPrefix(regs[0].Source, "tls:") {
		t.Fatalf("binding %v: want a NATed TLS flow", regs)
	}
	checked := e.srv.m.natPings.WithLabelValues("connection")
	eventually(t, 5*time.Second, "the open flow checked twice", func() bool { return counterValue(t, checked) >= 2 })
	if regs, _ := e.be.Contacts(context.Background(), "1001"); len(regs) != 1 {
		t.Fatalf("a binding with an open flow was removed: %v", regs)
	}
	_ = p.ua.Close() // closes its TLS connection
	eventually(t, 10*time.Second, "the binding of the closed flow removed", func() bool {
		regs, _ := e.be.Contacts(context.Background(), "1001")
		return len(regs) == 0
	})
}

// tamperMAC changes the first character of a flow token's MAC.
func tamperMAC(tok string) string {
	src, mac, _ := strings.Cut(tok, ".")
	first := "A"
	if mac[0] == 'A' {
		first = "B"
	}
	return src + "." + first + mac[1:]
}

// TestNAT_CRLFKeepAlives: with NATPingCRLF the node sends CRLF datagrams
// over the flow instead of OPTIONS, and removes nothing for want of an
// answer.
func TestNAT_CRLFKeepAlives(t *testing.T) {
	e, nat := natEnv(t, func(c *Config) { c.NATPingCRLF = true })
	if res := nat.register(3600); res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	sent := e.srv.m.natPings.WithLabelValues("crlf")
	eventually(t, 5*time.Second, "five CRLF keep-alives", func() bool { return counterValue(t, sent) >= 5 })
	if n := counterValue(t, e.srv.m.natPings.WithLabelValues("answered")); n != 0 {
		t.Errorf("%v OPTIONS pings with CRLF keep-alives", n)
	}
	if regs, _ := e.be.Contacts(context.Background(), "1001"); len(regs) != 1 {
		t.Fatalf("bindings %v", regs)
	}
}

// TestNATFlows_FollowTheLinesBindings: the flows kept alive are the
// line's NATed bindings: plain ones are not, removed ones and ones the
// directory replaced (too many contacts) are forgotten.
func TestNATFlows_FollowTheLinesBindings(t *testing.T) {
	f, now, iv := newNATFlows(), time.Now(), time.Second
	reg := func(contact string, nat bool) *dirpb.Registration {
		return &dirpb.Registration{Contact: contact, Source: "udp:198.51.100.1:4000", Nat: nat, ExpiresAtUnix: now.Unix() + 60}
	}
	a, b, c := reg("sip:1@10.0.0.1", true), reg("sip:1@192.0.2.1", false), reg("sip:1@10.0.0.3", true)
	f.update("1", actors.RegisterUpdate{Put: []*dirpb.Registration{a, b}}, []*dirpb.Registration{a, b}, now, iv)
	f.update("2", actors.RegisterUpdate{Put: []*dirpb.Registration{a}}, []*dirpb.Registration{a}, now, iv)
	if f.len() != 2 {
		t.Fatalf("%d flows, want line 1's and line 2's NATed bindings", f.len())
	}
	f.update("1", actors.RegisterUpdate{Put: []*dirpb.Registration{c}}, []*dirpb.Registration{b, c}, now, iv) // a replaced
	if _, ok := f.m[flowMapKey("1", a.Contact)]; ok || f.len() != 2 {
		t.Errorf("a replaced binding is still pinged: %d flows", f.len())
	}
	f.update("1", actors.RegisterUpdate{Remove: []string{c.Contact}}, []*dirpb.Registration{b}, now, iv)
	f.update("2", actors.RegisterUpdate{RemoveAll: true}, nil, now, iv)
	if f.len() != 0 {
		t.Errorf("%d flows left after the removals", f.len())
	}
	if due := f.due(now.Add(2 * iv)); len(due) != 0 {
		t.Errorf("%d flows due with none held", len(due))
	}
}

// TestNAT_LateAnswerHungUpOverItsFlow: two NATed phones of a ring_all
// group answer at once; the one that lost the race gets its ACK and BYE
// over its flow (its Contact is a private address nothing listens on).
// They answer without ringing first: after a 180 the loser could get the
// node's CANCEL before its 200 left, answer 487 instead, and have no
// dialog to hang up.
func TestNAT_LateAnswerHungUpOverItsFlow(t *testing.T) {
	e, _ := natEnv(t, func(c *Config) { c.NATPingInterval = -1 })
	e.user("m1", "1101", "pw1")
	e.user("m2", "1102", "pw2")
	e.group("sales", "700", "ring_all", []string{"m1", "m2"}, nil)
	m1 := newPhoneBehind(t, e, "127.0.0.1", "10.0.0.11:5060", "1101", "pw1")
	m2 := newPhoneBehind(t, e, "127.0.0.1", "10.0.0.12:5060", "1102", "pw2")
	for _, p := range []*phone{m1, m2} {
		if res := p.register(3600); res.StatusCode != 200 {
			t.Fatalf("register %s: %d", p.number, res.StatusCode)
		}
		p.answerAtOnce()
	}
	bob := newPhone(t, e, "2001", "secret")
	call := bob.call("700")
	call.wait(200, 5*time.Second)
	call.ackAndBye(true)
	eventually(t, 5*time.Second, "both members' dialogs ended (caller's BYE and late hang-up)", func() bool {
		b1, a1 := m1.counts()
		b2, a2 := m2.counts()
		return b1 == 1 && b2 == 1 && a1 == 1 && a2 == 1
	})
	eventually(t, 5*time.Second, "the call ends", func() bool { return e.srv.calls.len() == 0 })
}

// The node relaying an INVITE to a flow Record-Routes itself with the
// dialog's token: once when the node it came from and the phone are on
// the same side, twice (RFC 5658) when they are on different interfaces,
// each entry naming the address that side reaches.
func TestAddRecordRoutes_FlowTokenNamesEachSide(t *testing.T) {
	a, _, _ := testAddrs("0.0.0.0", "")
	s := addrServer(t, a)
	for _, tc := range []struct {
		name, from, phone string
		want              []string
	}{
		{"one side", peer1, "10.1.0.51:5060", []string{"<sip:TOK@10.1.0.1:5060;lr>"}},
		{"two sides", peer1, peer2, []string{"<sip:TOK@10.2.0.1:5060;lr>", "<sip:TOK@10.1.0.1:5060;lr>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newTestRequest("UDP", tc.from)
			fwd := in.Clone()
			fwd.SetDestination(tc.phone)
			s.addRecordRoutes(in, fwd, "TOK")
			var got []string
			for _, h := range fwd.GetHeaders("Record-Route") {
				got = append(got, h.Value())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("Record-Route %q, want %q", got, tc.want)
			}
		})
	}
}

// The Path of a NATed binding names where other nodes reach this one:
// on a wildcard bind the configured PathHost (the Raft host), unless it
// is loopback or unspecified; a specific bind or an advertise address
// is named as it is.
func TestPathHost(t *testing.T) {
	for _, tc := range []struct {
		bound, advertise, pathHost, want string
	}{
		{"0.0.0.0", "", "10.2.0.1", "10.2.0.1"},
		{"0.0.0.0", "", "127.0.0.1", "10.1.0.1"},
		{"0.0.0.0", "", "0.0.0.0", "10.1.0.1"},
		{"0.0.0.0", "", "", "10.1.0.1"},
		{"10.1.0.1", "", "10.2.0.1", "10.1.0.1"},
		{"0.0.0.0", "203.0.113.7", "10.2.0.1", "203.0.113.7"},
	} {
		a, _, _ := testAddrs(tc.bound, tc.advertise)
		s := addrServer(t, a)
		s.cfg.PathHost = tc.pathHost
		if s.host = a.fixed("UDP"); s.host == "" {
			s.host = "10.1.0.1" // the first interface address, as Start picks it
		}
		if got := s.pathHost(); got != tc.want {
			t.Errorf("bound %s, advertise %q, PathHost %q: Path names %s, want %s", tc.bound, tc.advertise, tc.pathHost, got, tc.want)
		}
	}
}
