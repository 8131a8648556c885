package persistence

import (
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A line is in service while its owner exists and is not disabled; a
// member rings on their primary line only then.
func TestStore_InServiceAndRingLine(t *testing.T) {
	n := newNode(t)
	mustApply(t, n, putUser("ann"))
	mustApply(t, n, putUser("bo"))
	mustApply(t, n, putLine(&dirpb.Line{Number: "101", Owner: "ann", Kind: "secondary"}))
	mustApply(t, n, putLine(&dirpb.Line{Number: "100", Owner: "ann", Kind: "primary"}))
	s := n.Store()
	for _, tc := range []struct {
		name     string
		disabled bool
		ring     string
	}{
		{name: "enabled: rung on the primary line", ring: "100"},
		{name: "disabled: not rung, no line in service", disabled: true, ring: ""},
		{name: "re-enabled", ring: "100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustApply(t, n, &dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: &dirpb.User{Id: "ann", DisplayName: "ann", Disabled: tc.disabled}}}})
			if got, err := s.RingLine("ann"); err != nil || got != tc.ring {
				t.Fatalf("RingLine = %q, %v; want %q", got, err, tc.ring)
			}
			for _, number := range []string{"100", "101"} {
				l, err := s.Line(number)
				if err != nil {
					t.Fatal(err)
				}
				if ok, err := s.InService(l); err != nil || ok == tc.disabled {
					t.Fatalf("InService(%s) = %v, %v with disabled=%v", number, ok, err, tc.disabled)
				}
			}
		})
	}
	if got, err := s.RingLine("bo"); err != nil || got != "" {
		t.Errorf("RingLine of a user without lines = %q, %v", got, err)
	}
	if ok, err := s.InService(&dirpb.Line{Number: "999", Owner: "gone"}); err != nil || ok {
		t.Errorf("InService of a line whose owner does not exist = %v, %v", ok, err)
	}
}
