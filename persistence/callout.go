package persistence

import (
	"sync"

	"github.com/ucgrid/ucgrid/dialplan"
)

// planCache holds the compiled dial plan, renewed after each committed
// change of the plan or of a trunk.
type planCache struct {
	mu    sync.Mutex
	valid bool
	at    uint64
	plan  *dialplan.Plan
}

// CompiledDialPlan is the stored dial plan compiled against the stored
// trunks (dialplan.Compile), cached until the next committed change of
// either: what the SIP proxy routes calls out with and the API checks
// forwarding destinations against. The FSM refuses a plan that does not
// compile and keeps the trunks it uses, so an error is a read error.
func (s *Store) CompiledDialPlan() (*dialplan.Plan, error) {
	c := &s.plans
	gen := s.Generation(KindDialPlan, KindTrunk)
	c.mu.Lock()
	if c.valid && c.at == gen {
		p := c.plan
		c.mu.Unlock()
		return p, nil
	}
	c.mu.Unlock()
	stored, err := s.DialPlan()
	if err != nil {
		return nil, err
	}
	plan, err := dialplan.Compile(stored, func(id string) (bool, bool) {
		t, err := s.Trunk(id)
		return err == nil, t.GetOutbound() != nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if !c.valid || gen >= c.at {
		c.valid, c.at, c.plan = true, gen, plan
	}
	c.mu.Unlock()
	return plan, nil
}

// CallClass is user's class of service for calls out: their own
// (User.call_class), else the global default, else national.
func (s *Store) CallClass(user string) (dialplan.Class, error) {
	u, err := s.User(user)
	if err != nil {
		return dialplan.Internal, err
	}
	g, err := s.Global()
	if err != nil {
		return dialplan.Internal, err
	}
	return dialplan.Effective(u.GetCallClass(), g.GetDefaultCallClass()), nil
}
