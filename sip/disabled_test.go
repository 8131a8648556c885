package sip

import (
	"context"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// notRung fails when p received an INVITE. Called after a call that
// rang someone else or was answered: by then an INVITE to p, forked at
// the same time, would have arrived.
func notRung(t *testing.T, p *phone, what string) {
	t.Helper()
	select {
	case r := <-p.incoming:
		t.Fatalf("%s: line %s rang (%s)", what, p.number, r.req.Recipient.String())
	default:
	}
}

// A disabled user's lines are out of service at once: the registration
// they hold stays stored but rings no more, directly or in a group of
// either kind of ring plan; their REGISTER, INVITE and re-REGISTER get
// 403 "Account Disabled" after authentication and store nothing; once
// re-enabled, the same registration rings again without a new REGISTER.
func TestDisabledUser_NotRungNotRegisteredUntilReenabled(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noTargets bool // the SIP layer looks the members' lines up itself
	}{
		{name: "plan carries the targets"},
		{name: "plan without targets", noTargets: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.be.noTargets = tc.noTargets
			e.user("alice", "1001", "a-pw")
			e.user("bob", "2001", "b-pw")
			e.user("carol", "3001", "c-pw")
			alice := registered(t, e, "1001", "a-pw")
			bob, carol := registered(t, e, "2001", "b-pw"), registered(t, e, "3001", "c-pw")
			e.group("sales", "700", "ring_all", []string{"bob", "carol"}, nil)
			e.group("line", "701", "sequential", []string{"bob", "carol"}, func(g *dirpb.CallGroup) { g.MemberTimeoutS = 5 })

			e.setDisabled("bob", true)
			alice.call("2001").wait(480, 5*time.Second)
			notRung(t, bob, "direct call to a disabled user")
			for _, group := range []string{"700", "701"} {
				c := alice.call(group)
				carol.waitRinging(5 * time.Second).answer <- 200
				c.wait(200, 5*time.Second)
				c.ackAndBye(true)
				notRung(t, bob, "group call "+group)
			}

			before, _ := e.be.Contacts(context.Background(), "2001")
			res := bob.register(300, "<sip:2001@127.0.0.1:5999>")
			if res.StatusCode != 403 || res.Reason != "Account Disabled" {
				t.Fatalf("REGISTER of a disabled user's line: %d %q, want 403 Account Disabled", res.StatusCode, res.Reason)
			}
			if after, _ := e.be.Contacts(context.Background(), "2001"); len(after) != len(before) {
				t.Fatalf("bindings after a refused REGISTER: %v, want %v", after, before)
			}
			bob.call("1001").wait(403, 5*time.Second)

			e.setDisabled("bob", false)
			c := alice.call("2001")
			bob.waitRinging(5 * time.Second).answer <- 200
			c.wait(200, 5*time.Second)
			c.ackAndBye(true)
			c = alice.call("700")
			bob.waitRinging(5 * time.Second).answer <- 200
			c.wait(200, 5*time.Second)
			c.ackAndBye(true)
			if res := bob.register(300); res.StatusCode != 200 {
				t.Fatalf("REGISTER after re-enabling: %d", res.StatusCode)
			}
		})
	}
}

// A disabled user's line is answered like a line with no phone (480),
// its forwarding is not followed, and a wrong password still gets the
// plain 403 of any failed authentication: only the holder of the line's
// password learns that the account is disabled.
func TestDisabledUser_NoForwardingAndWrongPasswordLooksAsUsual(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("carol", "3001", "c-pw")
	alice := registered(t, e, "1001", "a-pw")
	carol := registered(t, e, "3001", "c-pw")
	e.apply(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "bob"}}}})
	e.line("bob", "2001", "primary", "b-pw", &dirpb.Forwarding{Enabled: true, Destination: "3001"})
	e.setDisabled("bob", true)

	alice.call("2001").wait(480, 5*time.Second)
	notRung(t, carol, "forwarding of a disabled user's line")

	res, err := newPhone(t, e, "2001", "b-pw").tryRegister("wrong", 300)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 403 || res.Reason != "Forbidden" {
		t.Fatalf("wrong password for a disabled user's line: %d %q, want 403 Forbidden", res.StatusCode, res.Reason)
	}
}

// A disabled user's line cannot subscribe: 403 Account Disabled after
// authentication, no hub session opened; re-enabled, it subscribes again.
// (Their subscriptions under way are ended by node's
// accessEnder, tested there.)
func TestDisabledUser_CannotSubscribe(t *testing.T) {
	e, hub := subEnv(t)
	ben := e.ua("101", "ben-pw")
	e.setDisabled("ben", true)
	if _, res := ben.Subscribe("anna", "presence", 60); res.StatusCode != 403 || res.Reason != "Account Disabled" {
		t.Fatalf("SUBSCRIBE of a disabled user's line: %d %q, want 403 Account Disabled", res.StatusCode, res.Reason)
	}
	if n := hub.open(); n != 0 {
		t.Fatalf("%d hub sessions opened for a disabled subscriber", n)
	}
	e.setDisabled("ben", false)
	sub, res := ben.Subscribe("anna", "presence", 0)
	if res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE after re-enabling: %d", res.StatusCode)
	}
	sub.Next(5 * time.Second)
	waitGone(t, e, hub)
}
