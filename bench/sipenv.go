package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SIPConfig is what the SIP scenarios share.
type SIPConfig struct {
	// Domain is the cluster's SIP domain. Default "ucgrid.local" (the
	// embedded nodes' default).
	Domain string `json:"domain"`
	// Banks is how many phone banks (sipgo user agents, one UDP socket
	// each) the lines' phones are spread over. Default 4.
	Banks int `json:"banks"`
	// AnswerAfter is how long a phone rings before it answers (plus up
	// to as much again at random). Default 10ms.
	AnswerAfter time.Duration `json:"answer_after"`
	// Hold is how long an answered call lasts before the caller hangs
	// up. Default 0: BYE right after ACK.
	Hold time.Duration `json:"hold"`
	// CallTimeout bounds one call's wait for its answer. Default 5s.
	CallTimeout time.Duration `json:"call_timeout"`
	// Callers is how many trunk user agents place the calls. Default 4.
	Callers int `json:"callers"`
	// NoResponse is how long a caller that knows several nodes waits for
	// any response (even 100 Trying) before it tries the next node (the
	// failover and rolling scenarios; RFC 3263). Default 1s: a node
	// answers 100 Trying within milliseconds, and RFC 3261's Timer B
	// (32 s) is longer than any phone waits with a second server at hand.
	NoResponse time.Duration `json:"no_response"`
	// Generator is what generates the load of the hunt and register
	// scenarios: GeneratorGo (default) or GeneratorSIPp.
	Generator string `json:"generator,omitempty"`
	// Lines and Group are what a foreign SIP server (ClusterConfig
	// TargetSIP without Target; sipp generator only) already knows: the
	// lines the phones register (the first answers, hunt) and the number
	// of their ring_all group.
	Lines []SIPLine `json:"lines,omitempty"`
	Group string    `json:"group,omitempty"`
	// ServerPID is the process whose CPU per call the sipp generator
	// reports, with its children; 0 = the embedded nodes (none for a
	// foreign server).
	ServerPID int `json:"server_pid,omitempty"`
}

// Validate reports the first invalid field of s with its defaults filled
// in (WithDefaults), as one error naming the field.
func (s SIPConfig) Validate() error {
	s = s.WithDefaults()
	switch s.Generator {
	case "", GeneratorGo, GeneratorSIPp:
	default:
		return invalidConfig("SIPConfig.Generator", "%q: want %q or %q", s.Generator, GeneratorGo, GeneratorSIPp)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"AnswerAfter", s.AnswerAfter}, {"Hold", s.Hold}, {"CallTimeout", s.CallTimeout}, {"NoResponse", s.NoResponse},
	} {
		if d.v < 0 {
			return invalidConfig("SIPConfig."+d.field, "%v is negative", d.v)
		}
	}
	switch {
	case s.Banks < 1:
		return invalidConfig("SIPConfig.Banks", "%d, must be at least 1", s.Banks)
	case s.Callers < 1:
		return invalidConfig("SIPConfig.Callers", "%d, must be at least 1", s.Callers)
	}
	return nil
}

// WithDefaults returns a copy of s with every zero field set to its
// documented default.
func (s SIPConfig) WithDefaults() SIPConfig {
	if s.Domain == "" {
		s.Domain = "ucgrid.local"
	}
	if s.Banks == 0 {
		s.Banks = 4
	}
	if s.AnswerAfter == 0 {
		s.AnswerAfter = 10 * time.Millisecond
	}
	if s.CallTimeout == 0 {
		s.CallTimeout = 5 * time.Second
	}
	if s.Callers == 0 {
		s.Callers = 4
	}
	if s.NoResponse == 0 {
		s.NoResponse = time.Second
	}
	return s
}

// sipEnv is a cluster with lines, registered phones and trunk callers.
type sipEnv struct {
	cl      *Cluster
	banks   []*phoneBank
	callers []*userAgent
	proxies []string // every node's SIP address
	// targets is proxies as callers that know every node use them.
	targets *sipTargets
}

func (e *sipEnv) close() {
	for _, b := range e.banks {
		b.close()
	}
	for _, c := range e.callers {
		c.close()
	}
	e.cl.Stop()
}

// setUpSIP starts the cluster with a line per user, the trunk of
// 127.0.0.1, the phone banks and callers; register says whether every
// line registers its phone first.
func setUpSIP(ctx context.Context, c *Common, s *SIPConfig, register bool) (*sipEnv, error) {
	c.Directory.Lines = true
	cl, err := c.setUp(ctx)
	if err != nil {
		return nil, err
	}
	e := &sipEnv{cl: cl}
	if err := e.start(ctx, c, s, register); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *sipEnv) start(ctx context.Context, c *Common, s *SIPConfig, register bool) error {
	for _, n := range e.cl.Nodes {
		if n.SIP == "" {
			return errors.New("bench: the SIP scenarios need every node's SIP address (--target-sip)")
		}
		e.proxies = append(e.proxies, n.SIP)
	}
	e.targets = newSIPTargets(e.proxies)
	if err := putTrunk(ctx, c, e.cl); err != nil {
		return err
	}
	logger := c.Cluster.Logger
	for i := range s.Banks {
		b, err := newPhoneBank(fmt.Sprintf("bench-bank%d", i), s.AnswerAfter, logger)
		if err != nil {
			return err
		}
		e.banks = append(e.banks, b)
	}
	for i := range s.Callers {
		u, err := newUserAgent(fmt.Sprintf("bench-caller%d", i), logger)
		if err != nil {
			return err
		}
		if err := u.serve(); err != nil {
			u.close()
			return err
		}
		e.callers = append(e.callers, u)
	}
	if !register {
		return nil
	}
	c.logf("registering %d phones", c.Directory.Users)
	return e.registerAll(ctx, c, s)
}

// putTrunk makes 127.0.0.1 a trunk: the bench's callers place calls
// without authentication, as a carrier does.
func putTrunk(ctx context.Context, c *Common, cl *Cluster) error {
	trunk := map[string]any{"name": "bench callers", "addresses": []string{"127.0.0.1/32"}}
	if err := cl.Nodes[0].API.Setup(ctx, "PUT", "/v1/trunks/"+c.Directory.Prefix+"trunk", trunk); err != nil {
		return fmt.Errorf("bench: trunk: %w", err)
	}
	return nil
}

func (e *sipEnv) registerAll(ctx context.Context, c *Common, s *SIPConfig) error {
	d := &c.Directory
	steps := make([]func() error, d.Users)
	for i := range steps {
		steps[i] = func() error {
			n := d.LineNumber(i)
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			code, err := e.bank(i).register(rctx, e.proxies[i%len(e.proxies)], s.Domain, n, d.LinePassword(n), 3600)
			if err == nil && code/100 != 2 {
				err = fmt.Errorf("answered %d", code)
			}
			if err != nil {
				return fmt.Errorf("bench: register line %s: %w", n, err)
			}
			return nil
		}
	}
	return runParallel(ctx, d.Writers, steps, nil)
}

// bank is the phone bank of line i.
func (e *sipEnv) bank(i int) *phoneBank { return e.banks[i%len(e.banks)] }

// noResponseAvoid is how long callers leave a node alone after it
// answered nothing to an INVITE (a phone's blacklisting of a dead
// server).
const noResponseAvoid = 5 * time.Second

// sipTargets are the nodes' SIP addresses as a phone that knows all of
// them uses them (RFC 3263 §4.3): one after the other until one takes
// the call; a node that answered 503 with Retry-After, or nothing at
// all, is tried last for a while. Safe for concurrent use.
type sipTargets struct {
	mu    sync.Mutex
	addrs []string
	until []time.Time // when addrs[i] is tried in turn again
}

func newSIPTargets(addrs []string) *sipTargets {
	return &sipTargets{addrs: addrs, until: make([]time.Time, len(addrs))}
}

// order is the order in which call i tries the nodes at now: from node
// i mod n on, the ones to avoid last.
func (t *sipTargets) order(i int, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.addrs)
	out := make([]string, 0, n)
	var later []string
	for k := range n {
		j := (i + k) % n
		if now.Before(t.until[j]) {
			later = append(later, t.addrs[j])
		} else {
			out = append(out, t.addrs[j])
		}
	}
	return append(out, later...)
}

// avoid has addr tried last until d from now.
func (t *sipTargets) avoid(addr string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for j, a := range t.addrs {
		if u := time.Now().Add(d); a == addr && u.After(t.until[j]) {
			t.until[j] = u
		}
	}
}

// nextNode says whether a failed attempt goes on to the next node, and
// for how long to avoid the one that failed: a 503 (the node sheds load
// or leaves; Retry-After says how long), or no response at all (RFC 3263
// §4.3: a transport failure or a timeout). Anything else is the call's
// answer.
func nextNode(err error) (bool, time.Duration) {
	var ce *callError
	switch {
	case errors.As(err, &ce):
		return ce.code == 503, ce.retryAfter
	case errors.Is(err, errNoResponse):
		return true, noResponseAvoid
	}
	return false, 0
}

// anyNodeCall places call i to group i mod Groups through the nodes in
// the order of e.targets, as one call: the next node is tried when one
// answers 503 or nothing (nextNode). It returns how many nodes it tried.
func (e *sipEnv) anyNodeCall(ctx context.Context, s *SIPConfig, d *DirectoryConfig, i int) (callTimes, int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.CallTimeout)
	defer cancel()
	caller := e.callers[i%len(e.callers)]
	spec := dialSpec{domain: s.Domain, from: fmt.Sprintf("trunk%d", i), number: d.GroupNumber(i % d.Groups),
		hold: s.Hold, noResponse: s.NoResponse}
	var err error
	var ct callTimes
	tries := 0
	for _, proxy := range e.targets.order(i, time.Now()) {
		tries++
		spec.proxy = proxy
		ct, err = caller.dial(ctx, spec)
		next, avoid := nextNode(err)
		if !next || ctx.Err() != nil {
			break
		}
		e.targets.avoid(proxy, avoid)
	}
	return ct, tries, err
}
