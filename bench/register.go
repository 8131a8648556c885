package bench

import (
	"context"
	"fmt"
	"time"
)

// RegisterConfig configures the register scenario: REGISTER with digest
// authentication (401 challenge, then the authorised REGISTER: two round
// trips, as a phone without a cached nonce does) for the generated
// lines in turn, spread over the nodes.
type RegisterConfig struct {
	Common
	SIP SIPConfig `json:"sip"`
	// Expires is the requested registration lifetime. Default 3600.
	Expires int `json:"expires"`
}

// RunRegister runs the register scenario.
func RunRegister(ctx context.Context, cfg RegisterConfig) (*Result, error) {
	if err := cfg.SIP.validate(); err != nil {
		return nil, err
	}
	cfg.Common.ensureDefaults()
	cfg.SIP.ensureDefaults()
	if cfg.Expires == 0 {
		cfg.Expires = 3600
	}
	if cfg.SIP.Generator == GeneratorSIPp {
		return runSIPpRegister(ctx, cfg)
	}
	e, err := setUpSIP(ctx, &cfg.Common, &cfg.SIP, false)
	if err != nil {
		return nil, err
	}
	defer e.close()
	d := &cfg.Directory
	res := newResult("register", cfg)
	start := time.Now()
	rec := NewRecorder("REGISTER (digest)", start)
	elapsed := drive(ctx, cfg.Load, start, []*Recorder{rec}, func(ctx context.Context, i int, due time.Time) {
		ctx, cancel := context.WithTimeout(ctx, cfg.SIP.CallTimeout)
		defer cancel()
		line := i % d.Users
		n := d.LineNumber(line)
		code, err := e.bank(line).register(ctx, e.proxies[i%len(e.proxies)], cfg.SIP.Domain, n, d.LinePassword(n), cfg.Expires)
		if err == nil && code/100 != 2 {
			err = &callError{code: code}
		}
		if err != nil {
			rec.Fail(time.Now(), sipErrKind(err))
			return
		}
		now := time.Now()
		rec.Observe(now, now.Sub(due))
	})
	cfg.afterRun(ctx, e.cl)
	res.Seconds = elapsed.Seconds()
	res.Metrics = append(res.Metrics, rec.Metric(elapsed))
	res.Notes = append(res.Notes, fmt.Sprintf("%d lines registered in turn; every REGISTER is written to the directory through Raft", d.Users))
	return res, nil
}
