package dialplan

import (
	"errors"
	"fmt"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// ErrInvalid is wrapped by every error of Compile, a *FieldError.
var ErrInvalid = errors.New("dialplan: invalid plan")

// FieldError names what is wrong in a plan: Field is the JSON path
// ("rules[2].pattern", "rules[3]" for a rule in the wrong place,
// "emergency_numbers[0]").
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: %s: %s", ErrInvalid, e.Field, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Plan is a compiled, checked dial plan. The zero Plan routes nothing.
type Plan struct {
	rules     []rule
	emergency map[string]bool
	// emergencyTrunk carries emergency numbers when set.
	emergencyTrunk string
}

type rule struct {
	name    string
	pat     Pattern
	trunk   string
	strip   int
	prepend string
	class   Class
}

// Route is where a number goes.
type Route struct {
	// Rule is the index of the matching rule, -1 for the emergency trunk.
	Rule int
	Name string
	// Trunk is the id of the trunk to send the call to.
	Trunk string
	// Number is what to send upstream (after strip and prepend).
	Number string
	// Class is what the caller needs (ignored for emergency calls).
	Class     Class
	Emergency bool
}

// TrunkOK reports whether a trunk with this id exists and has an
// outbound side; Compile asks it for every trunk a plan names.
type TrunkOK func(id string) (exists, outbound bool)

// Compile checks p against the trunks and compiles it; a nil p is the
// empty plan.
func Compile(p *dirpb.DialPlan, trunks TrunkOK) (*Plan, error) {
	out := &Plan{emergency: map[string]bool{}, emergencyTrunk: p.GetEmergencyTrunk()}
	for i, r := range p.GetRules() {
		cr, err := compileRule(i, r, trunks)
		if err != nil {
			return nil, err
		}
		if err := checkOrder(out.rules, i, cr); err != nil {
			return nil, err
		}
		out.rules = append(out.rules, cr)
	}
	if t := p.GetEmergencyTrunk(); t != "" {
		if err := checkTrunk("emergency_trunk", t, trunks); err != nil {
			return nil, err
		}
	}
	for i, n := range p.GetEmergencyNumbers() {
		if err := out.addEmergency(i, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

func compileRule(i int, r *dirpb.DialRule, trunks TrunkOK) (rule, error) {
	field := fmt.Sprintf("rules[%d]", i)
	pat, err := ParsePattern(r.GetPattern())
	if err != nil {
		return rule{}, invalid(field+".pattern", "%v", err)
	}
	if err := checkTrunk(field+".trunk", r.GetTrunk(), trunks); err != nil {
		return rule{}, err
	}
	if r.GetStrip() < 0 || int(r.GetStrip()) > pat.MinLen() {
		return rule{}, invalid(field+".strip", "%d is not within 0..%d (the shortest number %q matches)", r.GetStrip(), pat.MinLen(), pat)
	}
	for j := 0; j < len(r.GetPrepend()); j++ {
		if !anyChar.has(r.GetPrepend()[j]) {
			return rule{}, invalid(field+".prepend", "%q holds %q: only digits, +, * and #", r.GetPrepend(), r.GetPrepend()[j])
		}
	}
	class := International
	if r.GetCallClass() != "" {
		if class, err = ParseClass(r.GetCallClass()); err != nil {
			return rule{}, invalid(field+".call_class", "%v", err)
		}
	}
	return rule{name: r.GetName(), pat: pat, trunk: r.GetTrunk(), strip: int(r.GetStrip()), prepend: r.GetPrepend(), class: class}, nil
}

func checkTrunk(field, id string, trunks TrunkOK) error {
	if id == "" {
		return invalid(field, "is missing")
	}
	exists, outbound := trunks(id)
	switch {
	case !exists:
		return invalid(field, "trunk %q does not exist", id)
	case !outbound:
		return invalid(field, "trunk %q has no outbound side", id)
	}
	return nil
}

// checkOrder refuses rule i when an earlier rule takes every number it
// matches (it would never be used), or shares numbers with it without
// either containing the other (which one wins would depend on order by
// accident). An earlier rule inside a later one is the usual exception
// first, and fine.
func checkOrder(earlier []rule, i int, r rule) error {
	for j, e := range earlier {
		switch {
		case r.pat.Within(e.pat):
			return invalid(fmt.Sprintf("rules[%d]", i), "pattern %q is shadowed by rules[%d] (%q): every number it matches goes there first", r.pat, j, e.pat)
		case e.pat.Within(r.pat) || !e.pat.Overlaps(r.pat):
		default:
			return invalid(fmt.Sprintf("rules[%d]", i), "pattern %q overlaps rules[%d] (%q) ambiguously (both match %q, neither contains the other)", r.pat, j, e.pat, common(e.pat, r.pat))
		}
	}
	return nil
}

// common is one number both overlapping patterns match.
func common(p, q Pattern) string {
	long := p
	if len(q.pos) > len(p.pos) {
		long = q
	}
	b := Pattern{pos: append([]set(nil), long.pos...)}
	for i := range b.pos {
		if i < len(p.pos) {
			b.pos[i] &= p.pos[i]
		}
		if i < len(q.pos) {
			b.pos[i] &= q.pos[i]
		}
	}
	return b.example()
}

func (p *Plan) addEmergency(i int, n string) error {
	field := fmt.Sprintf("emergency_numbers[%d]", i)
	if n == "" {
		return invalid(field, "is empty")
	}
	for j := 0; j < len(n); j++ {
		if !anyChar.has(n[j]) {
			return invalid(field, "%q holds %q: only digits, +, * and #", n, n[j])
		}
	}
	p.emergency[n] = true
	if _, ok := p.Route(n); !ok {
		return invalid(field, "%q: no rule matches it and emergency_trunk is not set", n)
	}
	return nil
}

// Route is where number goes: the emergency route for an emergency
// number, else the first rule that matches it; false when none does.
func (p *Plan) Route(number string) (Route, bool) {
	if p == nil {
		return Route{}, false
	}
	em := p.emergency[number]
	if em && p.emergencyTrunk != "" {
		return Route{Rule: -1, Name: "emergency", Trunk: p.emergencyTrunk, Number: number, Emergency: true}, true
	}
	for i, r := range p.rules {
		if r.pat.Match(number) {
			return Route{Rule: i, Name: r.name, Trunk: r.trunk, Number: r.prepend + number[r.strip:], Class: r.class, Emergency: em}, true
		}
	}
	return Route{}, false
}

// Uses reports whether the plan sends calls to trunk id.
func (p *Plan) Uses(id string) bool {
	if p == nil {
		return false
	}
	if p.emergencyTrunk == id {
		return true
	}
	for _, r := range p.rules {
		if r.trunk == id {
			return true
		}
	}
	return false
}
