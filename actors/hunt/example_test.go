package hunt_test

import (
	"fmt"
	"time"

	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/officehours"
)

// A sequential group during office hours: Ben is on a call and the group
// skips busy members, Carl is not at his desk phone.
func ExampleRingPlan() {
	here := func(user string) hunt.Member {
		return hunt.Member{User: user, LoggedIn: true, Reachable: true}
	}
	ben, carl := here("ben"), here("carl")
	ben.Busy, carl.Reachable = true, false
	g := hunt.Group{
		ID: "sales", Strategy: hunt.Sequential, SkipBusy: true,
		RingTimeout: 40 * time.Second, MemberTimeout: 15 * time.Second,
		NoAnswerTarget: "voicemail-sales",
		Members:        []hunt.Member{here("anna"), ben, carl, here("dora"), here("eve"), here("finn")},
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	hours := officehours.Verdict(officehours.Schedule{}, officehours.Override{}, now)

	p := hunt.RingPlan(g, hunt.State{}, hours, now)
	for _, s := range p.Stages {
		fmt.Printf("at %s ring %v for %s\n", s.Delay, s.Members, s.Timeout)
	}
	fmt.Println("then", p.Fallback)
	fmt.Println("skipped", p.Skipped)
	// Output:
	// at 0s ring [anna] for 15s
	// at 15s ring [dora] for 15s
	// at 30s ring [eve] for 10s
	// then forward to voicemail-sales
	// skipped [{ben busy} {carl unreachable} {finn not_reached}]
}

// Round robin starts after the member last offered a call.
func ExampleStep() {
	g := hunt.Group{ID: "support", Strategy: hunt.RoundRobin}
	for _, u := range []string{"anna", "ben", "carl"} {
		g.Members = append(g.Members, hunt.Member{User: u, LoggedIn: true, Reachable: true})
	}
	open := officehours.Result{Open: true}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var st hunt.State
	for call := range 4 {
		p := hunt.RingPlan(g, st, open, now)
		first := p.Stages[0].Members[0]
		fmt.Printf("call %d rings %s first\n", call+1, first)
		st = hunt.Step(st, hunt.Event{Kind: hunt.Offered, User: first}, now)
		st = hunt.Step(st, hunt.Event{Kind: hunt.Answered, User: first}, now)
	}
	// Output:
	// call 1 rings anna first
	// call 2 rings ben first
	// call 3 rings carl first
	// call 4 rings anna first
}
