package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// slowRegister delays every Register past the next second boundary, as a
// busy directory write may.
type slowRegister struct{ Backend }

func (b slowRegister) Register(ctx context.Context, line string, u actors.RegisterUpdate) ([]*dirpb.Registration, error) {
	regs, err := b.Backend.Register(ctx, line, u)
	next := time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)
	select {
	case <-time.After(time.Until(next)):
	case <-ctx.Done():
	}
	return regs, err
}

// A phone is told the interval it was granted, even when the directory's
// write ended in a later second than the one the request came in.
func TestRegister_AnswerTellsTheGrantedIntervalAfterASlowWrite(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Backend = slowRegister{c.Backend} })
	e.user("alice", "1001", "a-pw")
	p := newPhone(t, e, "1001", "a-pw")
	res := p.register(600)
	if res.StatusCode != 200 {
		t.Fatalf("register: %d", res.StatusCode)
	}
	if c := res.GetHeader("Contact"); c == nil || !strings.Contains(c.Value(), "expires=600") {
		t.Fatalf("register for 600 s: Contact %v, want expires=600", c)
	}
}
