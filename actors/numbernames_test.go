package actors

import (
	"context"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// The journal names a caller by its line's owner or its call group; a
// name changed, a line or group added or removed counts for the next
// call's entry at once, though the names are cached.
func TestNumberNames_FollowTheDirectoryAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := persistence.Open(ctx, persistence.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dir.Close() })
	if err := dir.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	apply := func(cmds ...*dirpb.Command) {
		t.Helper()
		for _, c := range cmds {
			if _, err := dir.Apply(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	named := func(id, name string) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: id, DisplayName: name}}}}
	}
	line := func(number, owner string) *dirpb.Command {
		return &dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: &dirpb.Line{Number: number, Owner: owner, Kind: "primary"}}}}
	}
	var c numberNames
	s := dir.Store()
	expect := func(step, number, want string) {
		t.Helper()
		for range 2 { // the first may fill the cache, the second reads it
			if got := c.name(s, number); got != want {
				t.Fatalf("%s: name of %q = %q, want %q", step, number, got, want)
			}
		}
	}
	apply(named("alice", "Alice Smith"), line("100", "alice"))
	expect("a line", "100", "Alice Smith")
	expect("an outside number", "+4989123", "")
	expect("no number", "", "")
	apply(named("alice", "Alice Jones"))
	expect("after a rename", "100", "Alice Jones")
	apply(named("bob", "Bob"), line("+4989123", "bob"))
	expect("a number that became a line", "+4989123", "Bob")
	apply(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "desk", Name: "Front desk", Active: true,
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "ring_all"}}}}})
	expect("a call group", "700", "Front desk")
	apply(&dirpb.Command{Op: &dirpb.Command_DeleteLine{DeleteLine: &dirpb.DeleteLine{Number: "100"}}})
	expect("a removed line", "100", "")
}
