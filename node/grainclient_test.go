//go:build !race

// Built without -race only: see server_test.go.

package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors"
	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
	"github.com/ucgrid/ucgrid/sip"
)

// actors.Client as the SIP layer's Backend on a real node: bindings through the line
// grain into the directory, ring plans from the group grain with the
// members' registrations, call state and hunt events, rights.
func TestGrainClient_ServesTheSIPLayer(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	apply := func(cmds ...*dirpb.Command) {
		t.Helper()
		for _, c := range cmds {
			if _, err := s.Directory().Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	user := func(id string) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id}}}}
	}
	line := func(n, owner string) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: n, Owner: owner, Kind: "primary"}}}}
	}
	apply(user("anna"), user("ben"), line("100", "anna"), line("101", "ben"),
		&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "desk", Active: true,
			Members: []*dirpb.Member{{User: "anna"}, {User: "ben"}}, MemberGrant: &dirpb.Grant{Level: "team"},
			CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "sequential", MemberTimeoutS: 5, RingTimeoutS: 20}}}}})
	var b sip.Backend = actors.Client{To: grainClient{s}}

	exp := time.Now().Add(time.Hour).Unix()
	regs, err := b.Register(ctx, "100", actors.RegisterUpdate{Put: []*dirpb.Registration{{Line: "100", Contact: "sip:100@192.0.2.1:5062", ExpiresAtUnix: exp, CallId: "r1", Cseq: 7}}})
	if err != nil || len(regs) != 1 || regs[0].GetContact() != "sip:100@192.0.2.1:5062" || regs[0].GetCseq() != 7 || regs[0].GetLine() != "100" {
		t.Fatalf("Register: %v %v", regs, err)
	}
	if stored, _ := s.Directory().Store().Registrations("100"); len(stored) != 1 {
		t.Fatalf("directory holds %v", stored)
	}
	if got, err := b.Contacts(ctx, "100"); err != nil || len(got) != 1 {
		t.Fatalf("Contacts: %v %v", got, err)
	}

	// ben has no phone: the sequential plan rings anna only.
	p, err := b.RingPlan(ctx, "desk")
	if err != nil || p.Closed || len(p.Stages) != 1 || p.Stages[0].Members[0] != "anna" || p.Stages[0].Timeout != 5*time.Second || p.Fallback.Status != 480 {
		t.Fatalf("RingPlan: %+v %v", p, err)
	}
	// The plan says where anna rings, as the line grain knew it.
	if tg, ok := p.Targets["anna"]; !ok || tg.Line != "100" || len(tg.Contacts) != 1 ||
		tg.Contacts[0].GetContact() != "sip:100@192.0.2.1:5062" || tg.Contacts[0].GetLine() != "100" || len(p.Targets) != 1 {
		t.Fatalf("RingPlan targets: %+v", p.Targets)
	}
	if _, err := b.RingPlan(ctx, "ghost"); !errors.Is(err, actors.ErrNotFound) {
		t.Errorf("RingPlan of an unknown group: %v", err)
	}
	if err := b.GroupEvent(ctx, "desk", hunt.Event{Kind: hunt.Offered, User: "anna"}); err != nil {
		t.Fatal(err)
	}
	if err := b.LineCall(ctx, "100", actors.CallEvent{CallID: "c1", Phase: linestate.PhaseRinging, Remote: "555"}); err != nil {
		t.Fatal(err)
	}
	if err := b.LineCall(ctx, "999", actors.CallEvent{CallID: "c1", Phase: linestate.PhaseRinging}); err == nil {
		t.Error("LineCall on an unknown line succeeded")
	}
	set, err := b.Rights(ctx, "ben", "anna")
	if err != nil || set != rights.LevelSet(rights.Team) {
		t.Errorf("Rights(ben over anna) = %s, %v; want team", set, err)
	}
	if regs, err := b.Register(ctx, "100", actors.RegisterUpdate{RemoveAll: true}); err != nil || len(regs) != 0 {
		t.Errorf("unregister all: %v %v", regs, err)
	}
}
