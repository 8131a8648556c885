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

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Common's and SIP's included.
func (c RegisterConfig) WithDefaults() RegisterConfig {
	c.Common = c.Common.WithDefaults()
	c.SIP = c.SIP.WithDefaults()
	if c.Expires == 0 {
		c.Expires = 3600
	}
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c RegisterConfig) Validate() error {
	c = c.WithDefaults()
	if err := c.SIP.Validate(); err != nil {
		return err
	}
	if c.Expires < 0 {
		return invalidConfig("RegisterConfig.Expires", "%d is negative", c.Expires)
	}
	return c.Common.Validate()
}

// RunRegister runs the register scenario.
func RunRegister(ctx context.Context, cfg RegisterConfig) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
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
