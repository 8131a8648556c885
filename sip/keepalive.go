package sip

import (
	"context"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// natFlow is one NATed binding registered through this node, pinged to
// keep its NAT mapping open (Kamailio's nathelper natping).
type natFlow struct {
	line, contact, source string
	expires               time.Time
	next                  time.Time // when the next ping is due
	misses                int       // pings in a row without an answer
	pinging               bool      // a ping is under way
}

// natFlows holds the NATed bindings this node registered, by line and
// contact. Only the node holding a flow can ping it (a UDP ping has to
// leave from the socket the phone's NAT mapping leads to). It lives in
// memory: after a restart a phone's next REGISTER (within NATExpires)
// puts it back.
type natFlows struct {
	mu sync.Mutex
	m  map[string]*natFlow
}

func newNATFlows() *natFlows { return &natFlows{m: map[string]*natFlow{}} }

func flowMapKey(line, contact string) string { return line + "\x00" + contact }

// update applies a stored REGISTER of line, after which the line has
// bindings regs: NATed bindings made here are (re)armed with their first
// ping at a random point of interval (pings of many phones spread over
// it, they do not come in bursts); others, and flows whose binding is no
// longer in regs (replaced when the line held too many), are forgotten.
func (f *natFlows) update(line string, u actors.RegisterUpdate, regs []*dirpb.Registration, now time.Time, interval time.Duration) {
	if interval <= 0 {
		return // keep-alives disabled
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.RemoveAll {
		for k, fl := range f.m {
			if fl.line == line {
				delete(f.m, k)
			}
		}
	}
	for _, c := range u.Remove {
		delete(f.m, flowMapKey(line, c))
	}
	for _, r := range u.Put {
		k := flowMapKey(line, r.GetContact())
		if !r.GetNat() {
			delete(f.m, k)
			continue
		}
		f.m[k] = &natFlow{line: line, contact: r.GetContact(), source: r.GetSource(),
			expires: time.Unix(r.GetExpiresAtUnix(), 0), next: now.Add(rand.N(interval) + 1)}
	}
	kept := make(map[string]bool, len(regs))
	for _, r := range regs {
		kept[r.GetContact()] = true
	}
	for k, fl := range f.m {
		if fl.line == line && !kept[fl.contact] {
			delete(f.m, k)
		}
	}
}

// due returns the flows whose ping is due at now and marks them under
// way; expired ones are forgotten.
func (f *natFlows) due(now time.Time) []*natFlow {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*natFlow
	for k, fl := range f.m {
		switch {
		case now.After(fl.expires):
			delete(f.m, k)
		case !fl.pinging && !now.Before(fl.next):
			fl.pinging = true
			out = append(out, fl)
		}
	}
	return out
}

// result records a ping's outcome; true when fl has now missed limit
// pings in a row and is still the binding held (not replaced by a new
// REGISTER meanwhile): it is forgotten, and the caller removes it.
func (f *natFlows) result(fl *natFlow, answered bool, now time.Time, interval time.Duration, limit int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.pinging = false
	fl.next = now.Add(interval)
	if answered {
		fl.misses = 0
		return false
	}
	fl.misses++
	k := flowMapKey(fl.line, fl.contact)
	if fl.misses < limit || f.m[k] != fl {
		return false
	}
	delete(f.m, k)
	return true
}

func (f *natFlows) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

// keepAlive pings the NATed bindings this node holds, each every
// NATPingInterval, until the server stops. It wakes a tenth of the
// interval (at most a second) apart and pings what is due, each flow at
// its own phase.
func (s *Server) keepAlive() {
	interval := s.cfg.NATPingInterval
	tick := time.NewTicker(min(interval/10, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-tick.C:
			s.m.natFlows.Set(float64(s.flows.len()))
			for _, fl := range s.flows.due(now) {
				if !s.goTracked(func() { s.ping(fl) }) {
					return
				}
			}
		}
	}
}

// ping sends one keep-alive to fl and removes its binding when it has
// missed NATPingMisses in a row. Over TCP or TLS the phone keeps its own
// connection alive (RFC 5626 CRLF, answered by sipgo); a flow whose
// connection has closed cannot be reached any more and is removed at
// once.
func (s *Server) ping(fl *natFlow) {
	transport, addr, _ := strings.Cut(fl.source, ":")
	answered, limit := false, s.cfg.NATPingMisses
	switch {
	case reliable(transport):
		answered, limit = s.connOpen(transport, addr), 1
		s.m.natPings.WithLabelValues("connection").Inc()
	case s.cfg.NATPingCRLF:
		s.pingCRLF(addr)
		answered = true // nothing comes back: CRLF keeps the mapping open, it cannot tell a dead phone
	default:
		answered = s.pingOptions(fl, addr)
	}
	if s.flows.result(fl, answered, time.Now(), s.cfg.NATPingInterval, limit) {
		s.dropFlow(fl)
	}
}

// pingCRLF sends a CRLF keep-alive (RFC 5626 §3.5.1's "double CRLF") from
// our listening socket to addr.
func (s *Server) pingCRLF(addr string) {
	s.m.natPings.WithLabelValues("crlf").Inc()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err == nil {
		_, err = s.udp.WriteTo([]byte("\r\n\r\n"), ua)
	}
	if err != nil {
		s.log.Debug("sip: nat keep-alive", "err", err)
	}
}

// pingOptions sends an OPTIONS to fl's contact over its flow and reports
// whether any response came (a phone answering 4xx is alive too).
func (s *Server) pingOptions(fl *natFlow, addr string) bool {
	req, err := s.optionsPing(fl.contact)
	if err != nil {
		return false
	}
	s.prepareOut(req, "UDP", addr)
	ctx, cancel := context.WithTimeout(s.ctx, min(s.cfg.NATPingInterval/2, natPingTimeout))
	defer cancel()
	tx, err := s.client.TransactionRequest(ctx, req, s.addVia)
	if err != nil {
		s.m.natPings.WithLabelValues("unanswered").Inc()
		return false
	}
	defer tx.Terminate()
	if waitFinal(ctx, tx) == nil {
		s.m.natPings.WithLabelValues("unanswered").Inc()
		return false
	}
	s.m.natPings.WithLabelValues("answered").Inc()
	return true
}

// natPingTimeout bounds the wait for a ping's answer: a phone answers an
// OPTIONS within milliseconds; a few retransmissions (T1 doubling) fit.
const natPingTimeout = 4 * time.Second

// optionsPing is an OPTIONS to contact from this node (Kamailio's
// nathelper sends the same).
func (s *Server) optionsPing(contact string) (*sip.Request, error) {
	var uri sip.Uri
	if err := sip.ParseUri(contact, &uri); err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.OPTIONS, uri)
	req.AppendHeader(sip.NewHeader("From", "<sip:keepalive@"+s.cfg.Domain+">;tag="+sip.GenerateTagN(16)))
	req.AppendHeader(sip.NewHeader("To", "<"+contact+">"))
	req.AppendHeader(sip.NewHeader("Call-ID", sip.GenerateTagN(24)))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.SetBody(nil)
	return req, nil
}

// dropFlow removes a binding that stopped answering its keep-alives
// (through Backend.Register, as an un-REGISTER would), and logs it once.
// The phone's next REGISTER restores it.
func (s *Server) dropFlow(fl *natFlow) {
	s.m.natDropped.Inc()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.BackendTimeout)
	defer cancel()
	_, err := s.cfg.Backend.Register(ctx, fl.line, actors.RegisterUpdate{Remove: []string{fl.contact}})
	if err != nil {
		s.log.Warn("sip: NATed binding stopped answering keep-alives; removing it failed", "line", fl.line, "err", err)
		return
	}
	s.log.Info("sip: NATed binding stopped answering keep-alives; removed until the phone registers again", "line", fl.line)
}
