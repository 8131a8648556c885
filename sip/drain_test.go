package sip

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/linestate"
)

// While the server drains, what would start something new (an INVITE, a
// REGISTER) gets 503 with Retry-After, and the calls under way go on: a
// ringing call is cancelled by its caller, another is answered, ACKed and
// hung up through the proxy; Drain returns once the last call ended.
func TestDrain_RefusesNewWorkAndLetsCallsInProgressFinish(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	carol := registered(t, e, "3001", "c-pw")
	toBob := alice.call("2001")
	rb := bob.waitRinging(5 * time.Second)
	toBob.wait(180, 5*time.Second)
	toCarol := alice.call("3001")
	carol.waitRinging(5 * time.Second)
	toCarol.wait(180, 5*time.Second)

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drained <- e.srv.Drain(ctx)
	}()
	eventually(t, 5*time.Second, "the server drains", e.srv.Draining)

	res := alice.call("2001").wait(503, 5*time.Second)
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() == "" {
		t.Errorf("503 of a new INVITE while draining has no Retry-After: %v", res)
	}
	if res, err := alice.tryRegister("a-pw", 300); err != nil || res.StatusCode != 503 {
		t.Errorf("REGISTER while draining: %v %v, want 503", res, err)
	}

	toCarol.cancel()
	toCarol.wait(487, 5*time.Second)
	rb.answer <- 200
	toBob.wait(200, 5*time.Second)
	select {
	case err := <-drained:
		t.Fatalf("drain ended while a call was connected: %v", err)
	default:
	}
	toBob.ackAndBye(true)
	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("drain did not end after the last BYE; %d calls held", e.srv.calls.len())
	}
	if byes, acks := bob.counts(); byes != 1 || acks < 1 {
		t.Errorf("bob saw %d BYE, %d ACK through the draining proxy", byes, acks)
	}
}

// A call still connected when the drain deadline passes keeps Drain from
// succeeding; Shutdown then ends it as before (its line goes idle).
func TestDrain_DeadlineLeavesRemainingCallsToShutdown(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	alice := registered(t, e, "1001", "a-pw")
	bob := registered(t, e, "2001", "b-pw")
	bob.setMode(200)
	c := alice.call("2001")
	c.wait(200, 5*time.Second)
	c.ackAndBye(false)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drain with a connected call: %v, want the deadline", err)
	}
	if n := e.srv.calls.len(); n != 1 {
		t.Fatalf("after the drain deadline %d calls held, want the connected one", n)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := e.srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.calls.len(); n != 0 {
		t.Errorf("after shutdown %d calls held", n)
	}
	eventually(t, 5*time.Second, "bob's line hears of the end", func() bool {
		p := e.be.phases("2001")
		return len(p) > 0 && slices.Contains(p, linestate.PhaseEnded)
	})
}
