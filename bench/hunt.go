package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// HuntConfig configures the hunt scenario: calls from a trunk into the
// generated ring_all call groups (every member's phone rings, the first
// to answer wins, the others are cancelled), spread over groups and
// nodes. It measures INVITE→180 (the proxy's fork), INVITE→200 (the
// answer, AnswerAfter included) and INVITE→503 (a refusal), counts
// failed calls, and sums up the goodput (Result.Goodput: calls completed
// and refused per second, which tells a node that sheds load past its
// capacity from one that collapses).
type HuntConfig struct {
	Common
	SIP SIPConfig `json:"sip"`
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Common's and SIP's included. With the SIPp
// generator the answering phone rings sippAnswerAfter by default, and
// there is at least one group (the phones are group 0's members).
func (c HuntConfig) WithDefaults() HuntConfig {
	if c.SIP.Generator == GeneratorSIPp {
		if c.SIP.AnswerAfter == 0 {
			c.SIP.AnswerAfter = sippAnswerAfter
		}
		c.Directory.Groups = max(c.Directory.Groups, 1)
	}
	c.Common = c.Common.WithDefaults()
	c.SIP = c.SIP.WithDefaults()
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c HuntConfig) Validate() error {
	c = c.WithDefaults()
	if err := c.SIP.Validate(); err != nil {
		return err
	}
	if c.Directory.Groups < 1 {
		return errors.New("bench: hunt needs DirectoryConfig.Groups ≥ 1")
	}
	return c.Common.Validate()
}

// RunHunt runs the hunt scenario.
func RunHunt(ctx context.Context, cfg HuntConfig) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.SIP.Generator == GeneratorSIPp {
		return runSIPpHunt(ctx, cfg)
	}
	e, err := setUpSIP(ctx, &cfg.Common, &cfg.SIP, true)
	if err != nil {
		return nil, err
	}
	defer e.close()
	res := newResult("hunt", cfg)
	start := time.Now()
	ringing := NewRecorder("INVITE→180", start)
	answered := NewRecorder("INVITE→200 (call)", start)
	refused := NewRecorder(refusedMetric, start)
	elapsed := drive(ctx, cfg.Load, start, []*Recorder{answered, ringing, refused}, func(ctx context.Context, i int, due time.Time) {
		ct, err := e.groupCall(ctx, &cfg, i)
		recordCall(ringing, answered, due, ct, err)
		recordRefusal(refused, due, err)
	})
	cfg.afterRun(ctx, e.cl)
	res.Seconds = elapsed.Seconds()
	am, rm := answered.Metric(elapsed), refused.Metric(elapsed)
	res.Metrics = append(res.Metrics, am, ringing.Metric(elapsed), rm)
	res.Goodput = newGoodput(am, rm, elapsed)
	res.Figures = append(res.Figures, e.bankFigures()...)
	return res, nil
}

// groupCall places call i: group i mod Groups, through node i mod nodes.
func (e *sipEnv) groupCall(ctx context.Context, cfg *HuntConfig, i int) (callTimes, error) {
	d := &cfg.Directory
	ctx, cancel := context.WithTimeout(ctx, cfg.SIP.CallTimeout)
	defer cancel()
	caller := e.callers[i%len(e.callers)]
	proxy := e.proxies[i%len(e.proxies)]
	return caller.call(ctx, proxy, cfg.SIP.Domain, fmt.Sprintf("trunk%d", i), d.GroupNumber(i%d.Groups), cfg.SIP.Hold)
}

// recordCall records a call's ringing and answer latencies from due.
func recordCall(ringing, answered *Recorder, due time.Time, ct callTimes, err error) {
	now := time.Now()
	if !ct.ringing.IsZero() {
		ringing.Observe(ct.ringing, ct.ringing.Sub(due))
	}
	if err != nil || ct.answered.IsZero() {
		answered.Fail(now, sipErrKind(err))
		if ct.ringing.IsZero() {
			ringing.Fail(now, sipErrKind(err))
		}
		return
	}
	answered.Observe(ct.answered, ct.answered.Sub(due))
}

func (e *sipEnv) bankFigures() []Figure {
	var inv, ans, canc int64
	for _, b := range e.banks {
		inv += b.invites.Load()
		ans += b.answered.Load()
		canc += b.cancelled.Load()
	}
	return []Figure{{Name: "branches rung (INVITEs at phones)", Value: float64(inv)},
		{Name: "branches answered", Value: float64(ans)}, {Name: "branches cancelled", Value: float64(canc)}}
}
