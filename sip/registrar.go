package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// onRegister is the registrar (RFC 3261 §10.3): the address of record is
// the To URI sip:NUMBER@DOMAIN, authenticated with the line's digest
// credentials; the bindings are kept by the line grain (Backend.Register).
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	to := req.To()
	if to == nil || to.Address.User == "" {
		s.respond(tx, req, sip.StatusBadRequest, "Bad To Header")
		s.m.registrations.WithLabelValues("bad_request").Inc()
		return
	}
	if !s.servesHost(to.Address.Host) {
		s.respond(tx, req, sip.StatusForbidden, "Domain Not Served")
		s.m.registrations.WithLabelValues("forbidden").Inc()
		return
	}
	line, err := s.authenticate(req, tx, wwwAuth)
	if err != nil {
		s.m.registrations.WithLabelValues("unauthenticated").Inc()
		return
	}
	if line.GetNumber() != to.Address.User {
		s.respond(tx, req, sip.StatusForbidden, "Forbidden")
		s.m.registrations.WithLabelValues("forbidden").Inc()
		return
	}
	asked := time.Now()
	update, code, reason := s.registerUpdate(req, line.GetNumber(), asked)
	if code != 0 {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		if code == sip.StatusIntervalToBrief {
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.MinExpires.Seconds()))))
		}
		s.send(tx, res)
		s.m.registrations.WithLabelValues("bad_request").Inc()
		return
	}
	s.applyRegister(req, tx, line.GetNumber(), update, asked)
}

// applyRegister stores u and answers with the line's bindings; their
// expires count from asked, the moment the request's own were granted,
// so a phone is told the interval it was granted even when the write
// ended in the next second.
func (s *Server) applyRegister(req *sip.Request, tx sip.ServerTransaction, number string, u actors.RegisterUpdate, asked time.Time) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.BackendTimeout)
	defer cancel()
	var regs []*dirpb.Registration
	var err error
	if len(u.Put) == 0 && len(u.Remove) == 0 && !u.RemoveAll {
		regs, err = s.cfg.Backend.Contacts(ctx, number)
	} else {
		regs, err = s.cfg.Backend.Register(ctx, number, u)
	}
	if err != nil {
		s.log.Warn("sip: register", "line", number, "err", err)
		res := sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Registration Not Stored", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		s.send(tx, res)
		s.m.registrations.WithLabelValues("error").Inc()
		return
	}
	now := time.Now()
	s.flows.update(number, u, regs, now, s.cfg.NATPingInterval)
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	for _, r := range regs {
		left := r.GetExpiresAtUnix() - asked.Unix()
		if left <= 0 {
			continue
		}
		res.AppendHeader(sip.NewHeader("Contact", "<"+r.GetContact()+">;expires="+strconv.FormatInt(left, 10)))
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	s.send(tx, res)
	s.m.registrations.WithLabelValues("ok").Inc()
}

// registerUpdate decides the request's bindings. A non-zero code is the
// error answer instead (400 for a Contact that cannot be used or an
// Expires that cannot be read, 403 for more Contacts than a line keeps,
// 423), and nothing is stored.
func (s *Server) registerUpdate(req *sip.Request, number string, now time.Time) (actors.RegisterUpdate, int, string) {
	var u actors.RegisterUpdate
	contacts, err := contactValues(req)
	if err != nil {
		return u, sip.StatusBadRequest, "Bad Contact"
	}
	if len(contacts) > persistence.MaxContactsPerLine {
		// Never stored in part: a request that can never succeed gets a
		// 4xx, not Kamailio's 503 (which sends phones to retry elsewhere).
		return u, sip.StatusForbidden, fmt.Sprintf("Too Many Contacts (at most %d)", persistence.MaxContactsPerLine)
	}
	defExpires := int64(3600)
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.ParseInt(strings.TrimSpace(h.Value()), 10, 64)
		if err != nil || n < 0 {
			return u, sip.StatusBadRequest, "Bad Expires"
		}
		defExpires = n
	}
	for _, c := range contacts {
		if c.uri.Wildcard {
			if len(contacts) != 1 || defExpires != 0 {
				return u, sip.StatusBadRequest, "Wildcard Contact Needs Expires: 0"
			}
			u.RemoveAll = true
			return u, 0, ""
		}
		exp := defExpires
		if v, ok := c.params.Get("expires"); ok {
			if exp, err = strconv.ParseInt(v, 10, 64); err != nil || exp < 0 {
				return u, sip.StatusBadRequest, "Bad Contact Expires"
			}
		}
		if exp == 0 {
			u.Remove = append(u.Remove, c.uri.String())
			continue
		}
		if time.Duration(exp)*time.Second < s.cfg.MinExpires {
			return u, sip.StatusIntervalToBrief, "Interval Too Brief"
		}
		nat := natted(req, c.uri)
		exp = min(exp, int64(s.maxExpires(req, nat)/time.Second))
		b := s.binding(req, number, c, now, exp)
		if nat {
			b.Nat, b.Path = true, s.flowURI(b.Source, "")
		}
		u.Put = append(u.Put, b)
	}
	return u, 0, ""
}

// maxExpires is the longest registration granted to req: MaxExpires, at
// most NATExpires for a phone behind a NAT (its refresh keeps the NAT
// mapping open), and for a binding over TCP or TLS less than IdleTimeout
// (by a margin for the phone's refresh to arrive), so that the refresh
// keeps the phone's connection open even when it sends no keep-alives.
func (s *Server) maxExpires(req *sip.Request, nat bool) time.Duration {
	limit := s.cfg.MaxExpires
	if nat {
		limit = min(limit, s.cfg.NATExpires)
	}
	if !reliable(req.Transport()) {
		return limit
	}
	return min(limit, max(s.cfg.IdleTimeout-flowRefreshMargin, s.cfg.MinExpires))
}

// flowRefreshMargin is how long before the idle timeout a TCP or TLS
// registration expires.
const flowRefreshMargin = 30 * time.Second

func (s *Server) binding(req *sip.Request, number string, c contactValue, now time.Time, exp int64) *dirpb.Registration {
	r := &dirpb.Registration{
		Line: number, Contact: c.uri.String(), ExpiresAtUnix: now.Unix() + exp,
		Source: strings.ToLower(req.Transport()) + ":" + req.Source(), RegisteredUnix: now.Unix(),
	}
	if h := req.CallID(); h != nil {
		r.CallId = h.Value()
	}
	if h := req.CSeq(); h != nil {
		r.Cseq = h.SeqNo
	}
	if h := req.GetHeader("User-Agent"); h != nil {
		r.UserAgent = h.Value()
	}
	if v, ok := c.params.Get("+sip.instance"); ok {
		r.Instance = strings.Trim(v, `"<>`)
	}
	return r
}

// contactValue is one Contact value.
type contactValue struct {
	uri    sip.Uri
	params sip.HeaderParams
}

// contactValues parses every Contact header value (comma-separated
// lists and the compact form m included).
func contactValues(req *sip.Request) ([]contactValue, error) {
	var out []contactValue
	for _, name := range []string{"Contact", "m"} {
		for _, h := range req.GetHeaders(name) {
			if wildcardWithParams(h) {
				return nil, errors.New("sip: contact: the wildcard takes no parameters") // RFC 3261 §20.10: STAR alone
			}
			for _, v := range splitList(h.Value()) {
				var c contactValue
				if _, err := sip.ParseAddressValue(v, &c.uri, &c.params); err != nil {
					return nil, fmt.Errorf("sip: contact %q: %w", v, err)
				}
				if why := usableContact(c.uri); !c.uri.Wildcard && why != "" {
					return nil, fmt.Errorf("sip: contact %q: %s", v, why)
				}
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// splitList splits a header value at commas outside quotes and angle
// brackets.
func splitList(v string) []string {
	var out []string
	quoted, bracket, start := false, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' && (i == 0 || v[i-1] != '\\'):
			quoted = !quoted
		case c == '<' && !quoted:
			bracket = true
		case c == '>' && !quoted:
			bracket = false
		case c == ',' && !quoted && !bracket:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	if rest := strings.TrimSpace(v[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// servesHost reports whether host names this server: the domain, or an
// address literal (phones configured with the server's IP).
func (s *Server) servesHost(host string) bool {
	if strings.EqualFold(host, s.cfg.Domain) || strings.EqualFold(host, s.host) || host == "localhost" {
		return true
	}
	_, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil
}
