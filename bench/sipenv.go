package bench

import (
	"context"
	"errors"
	"fmt"
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
}

func (s *SIPConfig) ensureDefaults() {
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
}

// sipEnv is a cluster with lines, registered phones and trunk callers.
type sipEnv struct {
	cl      *Cluster
	banks   []*phoneBank
	callers []*userAgent
	proxies []string // every node's SIP address
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
	trunk := map[string]any{"name": "bench callers", "addresses": []string{"127.0.0.1/32"}}
	if err := e.cl.Nodes[0].API.Do(ctx, "PUT", "/v1/trunks/"+c.Directory.Prefix+"trunk", trunk, nil); err != nil {
		return fmt.Errorf("bench: trunk: %w", err)
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
