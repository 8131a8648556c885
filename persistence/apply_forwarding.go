package persistence

import (
	"regexp"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// setLineForwarding replaces one line's forwarding and nothing else of it:
// it reads the line as it is at this index, so a concurrent PutLine (a new
// SIP password, a label) and this command cannot undo each other.
func (t *txn) setLineForwarding(number string, f *dirpb.Forwarding) error {
	if err := checkID("line number", number); err != nil {
		return err
	}
	if err := checkForwarding(f); err != nil {
		return err
	}
	l, err := t.line(number)
	if err != nil {
		return err
	}
	l.Forwarding = cloneForwarding(f)
	if err := t.put(key(tLine, number), l); err != nil {
		return err
	}
	t.emit(Change{Kind: KindLine, ID: number, Users: []string{l.Owner}})
	return nil
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
