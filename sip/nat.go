package sip

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// NAT traversal for phones: what Kamailio's nathelper and RFC 5626
// ("outbound") give a registrar-proxy.
//
//   - Every request gets RFC 3581 received/rport in its top Via, and its
//     responses go back to the address and port it came from (symmetric
//     response routing, Kamailio's force_rport), asked for or not.
//   - A REGISTER from behind a NAT (natted) stores a binding marked nat,
//     with its source flow; requests to it go to that flow (toBinding),
//     from our listening socket (UDP) or over the phone's connection
//     (TCP, TLS), not to the private address in its Contact. Its
//     registration is granted at most NATExpires.
//   - The node pings the NATed bindings it holds (keepalive.go) and
//     removes those that stop answering.
//   - A NATed binding carries a Path (RFC 3327) naming the node holding
//     its flow, with a flow token that node signs: other nodes route
//     their requests to the phone through it (viaPath, path.go).

// stampVia adds RFC 3581's parameters to v, the top Via of a request
// that arrived from src: received when the sent-by host is not src's
// address or the phone asked for rport (RFC 3581 §4 wants it then even
// when equal), rport=<src port> when the phone asked (an empty rport) or
// when its sent-by port is not src's port (force_rport: a NAT rewrote it,
// and the response has to go back through the NAT's mapping). A Via
// naming src exactly, without rport, is left alone. It reports whether
// it changed v.
func stampVia(v *sip.ViaHeader, src netip.AddrPort) bool {
	if v == nil || !src.IsValid() {
		return false
	}
	ip := src.Addr().Unmap()
	port := v.Port
	if port == 0 {
		port = sip.DefaultPort(v.Transport)
	}
	rport, hasRport := v.Params.Get("rport")
	asked := hasRport && rport == ""
	changed := false
	if asked || !sameIP(v.Host, ip) {
		v.Params.Add("received", ip.String())
		changed = true
	}
	if asked || port != int(src.Port()) {
		v.Params.Add("rport", strconv.Itoa(int(src.Port())))
		changed = true
	}
	return changed
}

// sameIP reports whether host (a Via or URI host, maybe bracketed) is
// the address ip.
func sameIP(host string, ip netip.Addr) bool {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap() == ip
}

// stampDatagram applies stampVia to the top Via of a request read from
// UDP, before sipgo parses it: sipgo picks the address of a request's
// responses when the datagram arrives (the source IP with the Via port,
// or with the source port when rport is empty), so the parameters have
// to be in the bytes it reads. Responses and anything without a
// parsable Via pass unchanged.
func stampDatagram(data []byte, src net.Addr) []byte {
	ua, ok := src.(*net.UDPAddr)
	if !ok || bytes.HasPrefix(data, []byte("SIP/")) {
		return data
	}
	start, end, ok := topViaLine(data)
	if !ok {
		return data
	}
	hs, err := sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, data[start:end])
	if err != nil || len(hs) == 0 {
		return data
	}
	via, ok := hs[0].(*sip.ViaHeader)
	if !ok || !stampVia(via, ua.AddrPort()) {
		return data
	}
	vals := make([]string, len(hs))
	for i, h := range hs {
		vals[i] = h.Value()
	}
	line := "Via: " + strings.Join(vals, ", ")
	out := make([]byte, 0, len(data)+len(line)-(end-start))
	out = append(out, data[:start]...)
	out = append(out, line...)
	return append(out, data[end:]...)
}

// topViaLine finds the first Via header line (full or compact name) in
// the header section of data: its start and end (before the line break).
// A folded Via (continued on the next line) is not handled: false.
func topViaLine(data []byte) (int, int, bool) {
	first := bytes.IndexByte(data, '\n')
	if first < 0 {
		return 0, 0, false
	}
	for i := first + 1; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			return 0, 0, false
		}
		end += i
		line := bytes.TrimRight(data[i:end], "\r")
		if len(line) == 0 {
			return 0, 0, false // end of headers
		}
		if name, _, ok := bytes.Cut(line, []byte(":")); ok {
			n := strings.ToLower(string(bytes.TrimSpace(name)))
			if n == "via" || n == "v" {
				if end+1 < len(data) && (data[end+1] == ' ' || data[end+1] == '\t') {
					return 0, 0, false
				}
				return i, i + len(line), true
			}
		}
		i = end + 1
	}
	return 0, 0, false
}

// stampRequest applies stampVia to a request read from TCP or TLS (UDP
// datagrams are stamped before parsing, stampDatagram); responses use
// the connection anyway, the parameters tell the phone and the next hops
// where it was seen.
func stampRequest(req *sip.Request) {
	if !reliable(req.Transport()) {
		return
	}
	if src, err := netip.ParseAddrPort(req.Source()); err == nil {
		stampVia(req.Via(), src)
	}
}

// natted reports whether a REGISTER (or SUBSCRIBE) with Contact contact
// came from behind a NAT: the Contact's host is not the address the
// request came from, or the top Via's sent-by is not (over UDP its port
// counts too: a NAT maps ports; over TCP and TLS the source port is an
// ephemeral one anyway). Kamailio's nat_uac_test 1, 2 and 16. The
// Contact's port is not compared: a phone may name another listener
// there (a TCP one, say) without any NAT on the way.
func natted(req *sip.Request, contact sip.Uri) bool {
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	ip, udp := src.Addr().Unmap(), !reliable(req.Transport())
	if !sameIP(contact.Host, ip) {
		return true
	}
	v := req.Via()
	if v == nil {
		return false
	}
	port := v.Port
	if port == 0 {
		port = sip.DefaultPort(v.Transport)
	}
	return !sameIP(v.Host, ip) || (udp && port != int(src.Port()))
}

// errFlowGone is returned by toBinding for a NATed binding whose TCP or
// TLS connection has closed: the phone cannot be reached until it
// registers again (its Contact is a private address).
var errFlowGone = errors.New("sip: the connection of a NATed binding has closed")

// toBinding sets where req, a request to the phone of binding reg, goes:
//   - a NATed binding whose flow another node holds: through that node
//     (its Path, viaPath);
//   - a NATed binding held here: its source flow, from our listening
//     socket (UDP) or over its connection (TCP, TLS; errFlowGone when it
//     has closed);
//   - any binding registered over TCP or TLS whose connection is open:
//     that connection (RFC 5626 flow reuse);
//   - otherwise its Contact, as req already says.
func (s *Server) toBinding(req *sip.Request, reg *dirpb.Registration) error {
	if reg.GetNat() && reg.GetPath() != "" && !s.holdsFlow(reg.GetPath()) {
		return s.viaPath(req, reg.GetPath())
	}
	transport, addr, ok := strings.Cut(reg.GetSource(), ":")
	if !ok {
		return nil
	}
	if !reliable(transport) {
		if reg.GetNat() {
			req.Laddr = sip.Addr{}
			s.prepareOut(req, "UDP", addr)
		}
		return nil
	}
	if !s.connOpen(transport, addr) {
		if reg.GetNat() {
			return errFlowGone
		}
		return nil
	}
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(addr)
	req.Laddr = sip.Addr{}
	return nil
}

// connOpen reports whether sipgo holds a TCP or TLS connection to addr.
func (s *Server) connOpen(transport, addr string) bool {
	conn, err := s.ua.TransportLayer().GetConnection(transport, addr)
	if err != nil || conn == nil {
		return false
	}
	conn.Ref(-1) // GetConnection took a reference; sending takes its own
	return true
}

// flowKey is the key of the flow tokens: Config.FlowKey, or a random one
// (tokens then hold until this node restarts).
func flowKey(cfg Config) ([]byte, error) {
	if len(cfg.FlowKey) > 0 {
		return cfg.FlowKey, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("sip: flow key: %w", err)
	}
	return k, nil
}

// flowTokenMAC is the length of a flow token's MAC, in bytes: 128 bits.
const flowTokenMAC = 16

// flowToken names source (a binding's "udp:IP:PORT") in a URI user part
// only this node (or a node with the same FlowKey) can make: the source
// and an HMAC-SHA256 of it and dialog, base64url. A binding's Path has
// dialog "" (it starts calls); the Record-Route of a relayed INVITE has
// its Call-ID, so that a party who saw it in the dialog cannot start
// other calls through it.
func flowToken(key []byte, source, dialog string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(source)) + "." + enc.EncodeToString(flowMAC(key, []byte(source), dialog))
}

func flowMAC(key, source []byte, dialog string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(source)
	m.Write([]byte{0})
	m.Write([]byte(dialog))
	return m.Sum(nil)[:flowTokenMAC]
}

// parseFlowToken splits a token into the source it names and its MAC;
// false when it does not have a flow token's shape.
func parseFlowToken(token string) (source, mac []byte, ok bool) {
	enc := base64.RawURLEncoding
	a, b, ok := strings.Cut(token, ".")
	if !ok {
		return nil, nil, false
	}
	src, err1 := enc.DecodeString(a)
	mac, err2 := enc.DecodeString(b)
	if err1 != nil || err2 != nil || len(mac) != flowTokenMAC {
		return nil, nil, false
	}
	return src, mac, true
}

// verifyFlowToken returns the source a token for dialog names, false
// when the token is malformed, not ours, or for another dialog.
func verifyFlowToken(key []byte, token, dialog string) (string, bool) {
	src, mac, ok := parseFlowToken(token)
	if !ok || !hmac.Equal(mac, flowMAC(key, src, dialog)) {
		return "", false
	}
	return string(src), true
}

// flowURI is this node's URI with the token of the flow source for
// dialog: the Path of a NATed binding registered here (dialog ""), or the
// Record-Route of an INVITE relayed to it (its Call-ID).
func (s *Server) flowURI(source, dialog string) string {
	return "sip:" + flowToken(s.flowKey, source, dialog) + "@" + net.JoinHostPort(s.pathHost(), strconv.Itoa(s.port)) + ";lr"
}

// pathHost is the host other nodes reach us at (Config.PathHost).
func (s *Server) pathHost() string {
	if ip, err := netip.ParseAddr(s.cfg.PathHost); err == nil && s.addrs.fixed("UDP") == "" &&
		!ip.IsUnspecified() && !ip.IsLoopback() {
		return s.cfg.PathHost
	}
	return s.host
}

// holdsFlow reports whether path names this node.
func (s *Server) holdsFlow(path string) bool {
	var u sip.Uri
	if err := sip.ParseUri(path, &u); err != nil {
		return true // not a URI another node could be reached at: try the flow from here
	}
	return s.ourURI(u)
}

// viaPath sends req to the node of path first (a Route to it), which
// passes it on over the phone's flow.
func (s *Server) viaPath(req *sip.Request, path string) error {
	var u sip.Uri
	if err := sip.ParseUri(path, &u); err != nil {
		return fmt.Errorf("sip: binding path %q: %w", path, err)
	}
	req.PrependHeader(sip.NewHeader("Route", "<"+path+">"))
	req.Laddr = sip.Addr{}
	s.prepareOut(req, uriTransport(u), hostPort(u))
	return nil
}

// flowOf is the flow a request routed to us with a flow token is for:
// its top Route names this node with a flow token (by its shape) in its
// user part. ok false: no such Route (any other request, handled as
// usual); valid false: a token that is not ours.
func (s *Server) flowOf(req *sip.Request) (source string, ok, valid bool) {
	vs := routeValues(req)
	if len(vs) == 0 {
		return "", false, false
	}
	var u sip.Uri
	if _, err := sip.ParseAddressValue(vs[0], &u, nil); err != nil || !s.ourURI(u) {
		return "", false, false
	}
	if _, _, shaped := parseFlowToken(u.User); !shaped {
		return "", false, false
	}
	dialog := "" // a Path starts calls; within a dialog the token is the Record-Route's
	if hasToTag(req) {
		dialog = callID(req)
	}
	src, valid := verifyFlowToken(s.flowKey, u.User, dialog)
	return src, true, valid
}

// readFilter is what sipgo runs on every message read: UDP requests get
// their Via stamped (stampDatagram), then the log filter remembers where
// the message came from (logfilter.go).
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if strings.EqualFold(p.Transport, "udp") {
		data = stampDatagram(data, p.RemoteAddr)
	}
	return s.reads.filter(p, data)
}
