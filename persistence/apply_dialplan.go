package persistence

import (
	"errors"

	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// tDialPlan holds the one dial plan.
const tDialPlan = "d/s/dialplan"

// putDialPlan replaces the dial plan after dialplan.Compile accepted it
// against the trunks of this transaction.
func (t *txn) putDialPlan(p *dirpb.DialPlan) error {
	if p == nil {
		return invalidf("dial plan is missing")
	}
	var readErr error
	_, err := dialplan.Compile(p, func(id string) (bool, bool) {
		tr, err := t.trunk(id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			readErr = err
		}
		return err == nil, tr.GetOutbound() != nil
	})
	switch {
	case readErr != nil:
		return readErr
	case err != nil:
		var fe *dialplan.FieldError
		if errors.As(err, &fe) {
			return invalidf("dial plan %s: %s", fe.Field, fe.Msg)
		}
		return invalidf("dial plan: %v", err)
	}
	if err := t.put([]byte(tDialPlan), p); err != nil {
		return err
	}
	t.emit(Change{Kind: KindDialPlan})
	return nil
}

// dialPlan is the stored plan (empty before any was stored).
func (v view) dialPlan() (*dirpb.DialPlan, error) {
	p := &dirpb.DialPlan{}
	_, err := getProto(v.r, []byte(tDialPlan), p)
	return p, err
}

// DialPlan returns the dial plan (empty before any was stored).
func (s *Store) DialPlan() (*dirpb.DialPlan, error) { return s.view().dialPlan() }

// checkTrunkInPlan refuses to delete trunk id, or to take away its
// outbound side, while the dial plan sends calls to it.
func (t *txn) checkTrunkInPlan(id string, outbound bool) error {
	if outbound {
		return nil
	}
	p, err := t.dialPlan()
	if err != nil {
		return err
	}
	for i, r := range p.GetRules() {
		if r.GetTrunk() == id {
			return conflictf("trunk %q is used by dial plan rules[%d]: change the dial plan first", id, i)
		}
	}
	if p.GetEmergencyTrunk() == id {
		return conflictf("trunk %q is the dial plan's emergency_trunk: change the dial plan first", id)
	}
	return nil
}
