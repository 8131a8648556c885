package sip

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Trunk registrations (docs/sip.md, "Registration at upstreams"): for
// every trunk whose outbound side has register set, one node of the
// cluster keeps a binding at the upstream (Config.TrunkRegistrar says
// whether it is this one): REGISTER with the trunk's digest credentials,
// refreshed before it expires, retried with a growing pause after a
// failure, removed (Expires: 0) when the node stops keeping it.

// Bounds of the registration loop.
var (
	// regCheckEvery is how often the node looks whether it should keep
	// registrations and for which trunks (leadership, trunk changes).
	regCheckEvery = time.Second
	// regRetryMin and regRetryMax bound the pause after a failed
	// REGISTER (doubling from min): an upstream that is down is not
	// flooded, one that comes back is used within minutes.
	regRetryMin = 5 * time.Second
	regRetryMax = 5 * time.Minute
	// regTimeout bounds one REGISTER transaction with its challenge.
	regTimeout = 10 * time.Second
	// defaultRegExpires is what a trunk without register_expires_s asks.
	defaultRegExpires = 600 * time.Second
)

// Registration states (TrunkRegistration.State).
const (
	RegRegistering = "registering"
	RegRegistered  = "registered"
	RegFailed      = "failed"
	RegElsewhere   = "elsewhere"
)

// TrunkRegistration is the state of a trunk's registration as this node
// knows it.
type TrunkRegistration struct {
	// State is RegRegistering, RegRegistered, RegFailed or RegElsewhere
	// (another node keeps it: Node).
	State string
	// Node is the node keeping it when elsewhere ("" unknown).
	Node string
	// Expires is when the binding at the upstream ends (registered).
	Expires time.Time
	// Error is why the last attempt failed: the upstream's status line or
	// a transport error (never the credentials).
	Error string
}

// trunkRegs are the registration loops running on this node, and oc
// the overload state of the trunks' upstreams (overloadcontrol.go).
type trunkRegs struct {
	mu    sync.Mutex
	loops map[string]*regLoop
	at    uint64 // Generation(KindTrunk) the loops were started for
	here  bool

	oc overloadControl
}

type regLoop struct {
	out    *dirpb.TrunkOutbound
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	state TrunkRegistration
}

func (l *regLoop) set(st TrunkRegistration) {
	l.mu.Lock()
	l.state = st
	l.mu.Unlock()
}

// TrunkRegistration is the state of trunk id's registration; false when
// the trunk keeps none (or this node knows of none).
func (s *Server) TrunkRegistration(id string) (TrunkRegistration, bool) {
	r := &s.trunkRegs
	r.mu.Lock()
	l, ok := r.loops[id]
	here := r.here
	r.mu.Unlock()
	if ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.state, true
	}
	if here || s.cfg.TrunkRegistrar == nil {
		return TrunkRegistration{}, false
	}
	t, err := s.cfg.Store.Trunk(id)
	if err != nil || !t.GetOutbound().GetRegister() {
		return TrunkRegistration{}, false
	}
	_, node := s.cfg.TrunkRegistrar()
	return TrunkRegistration{State: RegElsewhere, Node: node}, true
}

// keepTrunkRegistrations runs until the server stops: every regCheckEvery
// it starts and stops registration loops to match the trunks and
// whether this node keeps them.
func (s *Server) keepTrunkRegistrations() {
	tick := time.NewTicker(regCheckEvery)
	defer tick.Stop()
	for {
		s.reconcileTrunkRegs()
		select {
		case <-s.ctx.Done():
			s.stopTrunkRegs(nil)
			return
		case <-tick.C:
		}
	}
}

// reconcileTrunkRegs starts a loop for each trunk that should register
// here and has none (or whose outbound side changed), and stops the rest.
func (s *Server) reconcileTrunkRegs() {
	here := true
	if s.cfg.TrunkRegistrar != nil {
		here, _ = s.cfg.TrunkRegistrar()
	}
	gen := s.cfg.Store.Generation(persistence.KindTrunk)
	r := &s.trunkRegs
	r.mu.Lock()
	same := r.here == here && r.at == gen && r.loops != nil
	r.mu.Unlock()
	if same {
		return
	}
	want := map[string]*dirpb.TrunkOutbound{}
	if here {
		trunks, err := s.cfg.Store.Trunks()
		if err != nil {
			s.log.Warn("sip: trunks for registration", "err", err)
			return
		}
		for _, t := range trunks {
			if t.GetOutbound().GetRegister() {
				want[t.GetId()] = t.GetOutbound()
			}
		}
	}
	s.stopTrunkRegs(want)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.here, r.at = here, gen
	if r.loops == nil {
		r.loops = map[string]*regLoop{}
	}
	for id, out := range want {
		if _, ok := r.loops[id]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(s.ctx))
		l := &regLoop{out: out, cancel: cancel, done: make(chan struct{}), state: TrunkRegistration{State: RegRegistering}}
		if !s.goTracked(func() { defer close(l.done); s.runTrunkReg(ctx, id, l) }) {
			cancel()
			continue
		}
		r.loops[id] = l
	}
}

// stopTrunkRegs stops (and waits for) every loop whose trunk is not in
// keep with the same outbound side; nil keep stops all.
func (s *Server) stopTrunkRegs(keep map[string]*dirpb.TrunkOutbound) {
	r := &s.trunkRegs
	r.mu.Lock()
	stopped := map[string]*regLoop{}
	for id, l := range r.loops {
		if out, ok := keep[id]; ok && proto.Equal(out, l.out) {
			continue
		}
		l.cancel()
		stopped[id] = l
		delete(r.loops, id)
	}
	r.mu.Unlock()
	for id, l := range stopped {
		<-l.done
		s.m.trunkRegistered.DeleteLabelValues(id)
	}
}

// runTrunkReg keeps trunk id registered until ctx ends, then removes the
// binding.
func (s *Server) runTrunkReg(ctx context.Context, id string, l *regLoop) {
	ses := newRegSession(s, l.out)
	retry := regRetryMin
	registered := false
	for {
		expires, err := ses.register(ctx, ses.expires)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
		case err != nil:
			registered = false
			l.set(TrunkRegistration{State: RegFailed, Error: err.Error()})
			s.m.trunkRegisters.WithLabelValues("failed").Inc()
			s.m.trunkRegistered.WithLabelValues(id).Set(0)
			s.log.Warn("sip: trunk registration failed", "trunk", id, "retry_in", retry, "err", err)
			wait, retry = retry, min(2*retry, regRetryMax)
		default:
			if !registered {
				s.log.Info("sip: trunk registered", "trunk", id, "expires", expires)
			}
			registered, retry = true, regRetryMin
			l.set(TrunkRegistration{State: RegRegistered, Expires: time.Now().Add(expires)})
			s.m.trunkRegisters.WithLabelValues("registered").Inc()
			s.m.trunkRegistered.WithLabelValues(id).Set(1)
			wait = refreshAfter(expires)
		}
		if ctx.Err() == nil {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
			timer.Stop()
		}
		if ctx.Err() != nil {
			if registered {
				uctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if _, err := ses.register(uctx, 0); err != nil {
					s.log.Debug("sip: trunk unregister", "trunk", id, "err", err)
				}
				cancel()
			}
			return
		}
	}
}

// refreshAfter is when to renew a binding granted for expires: at three
// quarters, and no later than 30 s before it ends.
func refreshAfter(expires time.Duration) time.Duration {
	d := expires * 3 / 4
	if expires-d > 30*time.Second {
		d = expires - 30*time.Second
	}
	return max(d, time.Second)
}

// regSession is one trunk's registration: the same Call-ID and From tag
// for every REGISTER of a loop, CSeq counting up (RFC 3261 §10.2).
type regSession struct {
	s       *Server
	out     *dirpb.TrunkOutbound
	callID  string
	fromTag string
	cseq    uint32
	expires time.Duration
}

func newRegSession(s *Server, out *dirpb.TrunkOutbound) *regSession {
	exp := defaultRegExpires
	if out.GetRegisterExpiresS() > 0 {
		exp = time.Duration(out.GetRegisterExpiresS()) * time.Second
	}
	return &regSession{s: s, out: out, callID: sip.GenerateBranchN(16) + "@ucgrid", fromTag: sip.GenerateBranchN(8), expires: exp}
}

// register sends one REGISTER asking for expires (0 removes the binding),
// answers one digest challenge, and returns what the upstream granted.
func (r *regSession) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, regTimeout)
	defer cancel()
	req := r.request(expires)
	res, err := r.send(ctx, req)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		if err := answerChallenge(req, res, r.out); err != nil {
			return 0, err
		}
		req.RemoveHeader("Via")
		r.cseq++
		req.CSeq().SeqNo = r.cseq
		res, err = r.send(ctx, req)
	}
	switch {
	case err != nil:
		return 0, err
	case !res.IsSuccess():
		return 0, fmt.Errorf("sip: upstream answered %d %s", res.StatusCode, res.Reason)
	}
	return granted(res, expires), nil
}

func (r *regSession) send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := r.s.client.TransactionRequest(ctx, req, r.s.addVia)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	res := waitFinal(ctx, tx)
	if res == nil {
		return nil, fmt.Errorf("sip: no answer from the upstream")
	}
	return res, nil
}

// request builds a REGISTER for the trunk's user at its domain, with our
// address toward the upstream as Contact.
func (r *regSession) request(expires time.Duration) *sip.Request {
	out := r.out
	domain := out.GetDomain()
	if domain == "" {
		domain = out.GetHost()
	}
	transport, dest := trunkDest(out)
	uri := sip.Uri{Scheme: "sip", Host: domain}
	if domain == out.GetHost() {
		if _, p, err := net.SplitHostPort(dest); err == nil {
			uri.Port, _ = strconv.Atoi(p) // from trunkDest: always a number
		}
	}
	req := sip.NewRequest(sip.REGISTER, uri)
	aor := sip.Uri{Scheme: "sip", User: out.GetUsername(), Host: domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	callID := sip.CallIDHeader(r.callID)
	req.AppendHeader(&callID)
	r.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	contact := "<sip:" + out.GetUsername() + "@" + net.JoinHostPort(r.s.nameToward(transport, dest), strconv.Itoa(r.s.addrs.portFor(transport)))
	if transport != "UDP" {
		contact += ";transport=" + strings.ToLower(transport)
	}
	req.AppendHeader(sip.NewHeader("Contact", contact+">"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("User-Agent", "ucgrid"))
	req.SetBody(nil)
	r.s.prepareOut(req, transport, dest)
	return req
}

// granted is the binding time the upstream gave: the Contact's expires
// parameter, else the Expires header, else what was asked.
func granted(res *sip.Response, asked time.Duration) time.Duration {
	if c := res.Contact(); c != nil {
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// registeredNumber is the number a call in from trunk asks for when its
// Request-URI names the trunk's registration user (the Contact we
// registered): the To user, where the upstream puts the dialled number.
func (s *Server) registeredNumber(trunk, number string, req *sip.Request) (string, bool) {
	t, err := s.cfg.Store.Trunk(trunk)
	if err != nil || t.GetOutbound().GetUsername() == "" || t.GetOutbound().GetUsername() != number || req.To() == nil {
		return "", false
	}
	to := req.To().Address.User
	return to, to != "" && to != number
}
