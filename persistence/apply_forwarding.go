package persistence

import (
	"regexp"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// setLineForwarding changes one line's forwarding and nothing else of it:
// it reads the line as it is at this index, so a concurrent PutLine (a new
// SIP password, a label) and this command cannot undo each other, nor two
// of these changing different forwards (set).
func (t *txn) setLineForwarding(number string, f *dirpb.Forwarding, set []string) error {
	if err := checkID("line number", number); err != nil {
		return err
	}
	l, err := t.line(number)
	if err != nil {
		return err
	}
	next, err := mergeForwarding(l.GetForwarding(), f, set)
	if err != nil {
		return err
	}
	if err := checkForwarding(next); err != nil {
		return err
	}
	l.Forwarding = next
	if err := t.put(key(tLine, number), l); err != nil {
		return err
	}
	t.emit(Change{Kind: KindLine, ID: number, Users: []string{l.Owner}})
	return nil
}

// mergeForwarding is old with the forwards named in set taken from f (all
// of f when set is empty).
func mergeForwarding(old, f *dirpb.Forwarding, set []string) (*dirpb.Forwarding, error) {
	if len(set) == 0 {
		return cloneForwarding(f), nil
	}
	out := cloneForwarding(old)
	if out == nil {
		out = &dirpb.Forwarding{}
	}
	for _, name := range set {
		switch name {
		case "unconditional":
			out.Enabled, out.Destination = f.GetEnabled(), f.GetDestination()
		case "busy":
			out.OnBusy = f.GetOnBusy()
		case "no_answer":
			out.OnNoAnswer = f.GetOnNoAnswer()
		case "no_answer_s":
			out.NoAnswerTimeoutS = f.GetNoAnswerTimeoutS()
		default:
			return nil, invalidf("forwarding set %q is not unconditional, busy, no_answer or no_answer_s", name)
		}
	}
	return out, nil
}

// forwardingNumber is what a forwarding destination may be: a directory
// number or one the dial plan routes out (1-32 of 0-9 * #, optionally
// after +); whether it is reachable is the call path's business.
var forwardingNumber = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)

// checkForwarding validates a forwarding: destinations are numbers (or
// empty: off), an enabled unconditional forward has one, the no-answer
// timeout is not negative. nil is "all off".
func checkForwarding(f *dirpb.Forwarding) error {
	if f == nil {
		return nil
	}
	for _, d := range []struct{ field, v string }{
		{"forwarding.destination", f.Destination}, {"forwarding.on_busy", f.OnBusy}, {"forwarding.on_no_answer", f.OnNoAnswer},
	} {
		if d.v != "" && !forwardingNumber.MatchString(d.v) {
			return invalidf("%s=%q is not a number (1-32 of 0-9 * #, optionally after +)", d.field, d.v)
		}
	}
	if f.Enabled && f.Destination == "" {
		return invalidf("forwarding.enabled without a destination")
	}
	if f.NoAnswerTimeoutS < 0 {
		return invalidf("forwarding.no_answer_timeout_s=%d is negative", f.NoAnswerTimeoutS)
	}
	return nil
}

func cloneForwarding(f *dirpb.Forwarding) *dirpb.Forwarding {
	if f == nil {
		return nil
	}
	return &dirpb.Forwarding{Enabled: f.Enabled, Destination: f.Destination, OnBusy: f.OnBusy,
		OnNoAnswer: f.OnNoAnswer, NoAnswerTimeoutS: f.NoAnswerTimeoutS}
}
