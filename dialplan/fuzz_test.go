package dialplan

import (
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// FuzzCompile feeds patterns and numbers from the wire (PUT /v1/dialplan,
// the Request-URI): Compile and Route never panic, a rule that compiles
// matches the example number its pattern describes, and Route's number
// is the dialled one after strip and prepend.
func FuzzCompile(f *testing.F) {
	for _, s := range []struct{ p1, p2, n string }{
		{"_00.", "_0ZX.", "0891234"}, {"_[1-3,7]N", "112", "12"}, {"_X!", "_+49.", "+4989"}, {"[", "_.", ""},
	} {
		f.Add(s.p1, s.p2, s.n, int32(1), "+49")
	}
	f.Fuzz(func(t *testing.T, p1, p2, number string, strip int32, prepend string) {
		plan, err := Compile(&dirpb.DialPlan{Rules: []*dirpb.DialRule{
			{Pattern: p1, Trunk: "carrier", Strip: strip, Prepend: prepend},
			{Pattern: p2, Trunk: "carrier"},
		}}, trunks)
		if err != nil {
			return
		}
		p, _ := ParsePattern(p1) // compiled above
		if !p.Match(p.example()) {
			t.Fatalf("%q does not match its own example %q", p1, p.example())
		}
		r, ok := plan.Route(number)
		if ok && r.Rule == 0 && r.Number != prepend+number[strip:] {
			t.Fatalf("Route(%q) = %q", number, r.Number)
		}
	})
}
