package sip

import (
	"maps"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Contact values sipgo cannot parse.
//
// sipgo parses Contact headers while it reads a message, and one it cannot
// parse ("garbage", a missing '>', an IPv6 address without brackets) makes
// the whole message unparsable: it is dropped unanswered, and the phone
// retransmits its REGISTER for 32 s and then reports a timeout instead of
// the error. The server's parser (newParser) keeps such a value as a plain
// header instead, and guard answers the request 400 Bad Contact
// (refuseBadContact) before any handler sees it.

// newParser is sipgo's parser, lenient with Contact values it cannot
// parse: they become a generic header (the message is still read), and
// every value it can parse is parsed as before.
func newParser() *sip.Parser {
	parsers := maps.Clone(sip.DefaultHeadersParser())
	strict := parsers["contact"]
	lenient := func(name []byte, text string) (sip.Header, error) {
		h, err := strict(name, text)
		if err != nil && err.Error() != "comma detected" { // sipgo's unexported errComaDetected: more values follow
			return sip.NewHeader("Contact", text), nil
		}
		return h, err
	}
	parsers["contact"], parsers["m"] = lenient, lenient
	return sip.NewParser(sip.WithHeadersParsers(parsers))
}

// hasBadContact reports whether req carries a Contact value sipgo could
// not parse (kept as a generic header by newParser).
func hasBadContact(req *sip.Request) bool {
	for _, name := range []string{"Contact", "m"} {
		for _, h := range req.GetHeaders(name) {
			if _, ok := h.(*sip.ContactHeader); !ok {
				return true
			}
		}
	}
	return false
}

// refuseBadContact answers a request with an unparsable Contact 400 Bad
// Contact (an ACK, which gets no answer, is dropped) and reports whether
// it did.
func (s *Server) refuseBadContact(req *sip.Request, tx sip.ServerTransaction) bool {
	if !hasBadContact(req) {
		return false
	}
	if !req.IsAck() {
		s.respond(tx, req, sip.StatusBadRequest, "Bad Contact")
	}
	return true
}

// usableContact reports why a parsed Contact URI cannot be called ("" when
// it can): a scheme other than sip or sips, no host, a host that is
// neither a domain name nor an IP literal, or a port out of range.
func usableContact(u sip.Uri) string {
	switch {
	case !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips"):
		return "not a sip or sips URI"
	case u.Host == "":
		return "no host"
	case !validHost(u.Host):
		return "bad host"
	case u.Port < 0 || u.Port > 65535:
		return "bad port"
	}
	return ""
}

// validHost reports whether h is a bracketed IPv6 literal, an IPv4
// literal or a domain name (RFC 3261 §25.1 hostname: letters, digits,
// '-' and '.').
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
		return err == nil && a.Is6() && strings.HasSuffix(h, "]")
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// wildcardWithParams reports whether h is "Contact: *" with parameters
// ("*;expires=300"): sipgo keeps them aside and leaves them out of the
// header's value.
func wildcardWithParams(h sip.Header) bool {
	c, ok := h.(*sip.ContactHeader)
	return ok && c.Address.Wildcard && c.Params.Length() > 0
}
