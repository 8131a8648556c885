package rights

import (
	"math/bits"
	"strings"
)

// Set is a set of rights. A boolean right takes one bit; a graded right with
// n grades takes n-1 bits holding its grade in unary code (grade g = the low g
// bits set). With that code the union of two sets, graded rights taking the
// larger grade, is a bitwise OR, and "gives at least as much" is a subset
// test. The zero Set holds no right (it equals the blocked level).
type Set uint32

type rightLayout struct {
	shift uint8
	mask  Set // the right's bits in place
}

var (
	layout    [NumRights]rightLayout
	levelSets [NumLevels]Set
	// All holds every right at its highest grade: what a user holds over
	// themself.
	All Set
)

func init() {
	var shift uint8
	for i, d := range catalogue {
		width := uint8(1)
		if d.grades != nil {
			width = uint8(len(d.grades) - 1)
		}
		layout[i] = rightLayout{shift: shift, mask: Set((1<<width)-1) << shift}
		All |= layout[i].mask
		shift += width
	}
	for l := Blocked; l <= Personal; l++ {
		levelSets[l] = levelSetFromCells(l)
	}
}

// levelSetFromCells builds a level's set from its column of the catalogue.
func levelSetFromCells(l Level) Set {
	var s Set
	for i, d := range catalogue {
		r := Right(i)
		cell := d.cells[l]
		switch {
		case d.grades != nil:
			g, err := r.ParseGrade(cell)
			if err != nil {
				panic("rights: catalogue: " + err.Error()) // a typo in the Go table; caught by every test
			}
			s = s.With(r, g)
		case cell == "1":
			s = s.With(r, 1)
		}
	}
	return s
}

// LevelSet returns the rights a standard level gives. Special has no set of
// its own and yields the empty set.
func LevelSet(l Level) Set {
	if l > Personal {
		return 0
	}
	return levelSets[l]
}

// Grade returns the grade the set holds of r: 0 or 1 for a boolean right.
func (s Set) Grade(r Right) Grade {
	lay := layout[r]
	return Grade(bits.OnesCount32(uint32((s & lay.mask) >> lay.shift)))
}

// Has reports whether the set holds r at all (a graded right above its
// lowest grade).
func (s Set) Has(r Right) bool { return s&layout[r].mask != 0 }

// With returns the set with r at exactly grade g (any g > 0 means "given"
// for a boolean right; a grade beyond the right's highest is capped).
func (s Set) With(r Right, g Grade) Set {
	lay := layout[r]
	width := uint8(bits.OnesCount32(uint32(lay.mask)))
	if uint8(g) > width {
		g = Grade(width)
	}
	return s&^lay.mask | Set((1<<g)-1)<<lay.shift
}

// Union returns the rights given by either set, graded rights at the larger
// grade.
func (s Set) Union(o Set) Set { return s | o }

// Contains reports whether s gives everything o gives (at least its grades).
func (s Set) Contains(o Set) bool { return s&o == o }

// Level returns the standard level whose set equals s, or Special.
func (s Set) Level() Level {
	for l := Blocked; l <= Personal; l++ {
		if levelSets[l] == s {
			return l
		}
	}
	return Special
}

// Covered returns the highest standard level whose every right s holds. It
// decides the contact fields of a special set.
func (s Set) Covered() Level {
	for l := Personal; l > Blocked; l-- {
		if s.Contains(levelSets[l]) {
			return l
		}
	}
	return Blocked
}

// Map returns the set in the JSON map shape: every right by name, true/false
// for a boolean right and the grade name for a graded one.
func (s Set) Map() map[string]any {
	m := make(map[string]any, NumRights)
	for i := range catalogue {
		r := Right(i)
		if r.Graded() {
			m[r.Name()] = r.GradeName(s.Grade(r))
		} else {
			m[r.Name()] = s.Has(r)
		}
	}
	return m
}

// SetFromMap parses the JSON map shape of a grant: right name → true/false
// for a boolean right, grade name for a graded one; an absent right is not
// given. It names the first offending right in its error.
func SetFromMap(m map[string]any) (Set, error) {
	var s Set
	for name, v := range m {
		r, err := ParseRight(name)
		if err != nil {
			return 0, err
		}
		g, err := parseValue(r, v)
		if err != nil {
			return 0, err
		}
		s = s.With(r, g)
	}
	return s, nil
}

func parseValue(r Right, v any) (Grade, error) {
	switch v := v.(type) {
	case bool:
		if !r.Graded() {
			if v {
				return 1, nil
			}
			return 0, nil
		}
	case string:
		if r.Graded() {
			return r.ParseGrade(v)
		}
	}
	return 0, &BadValueError{Right: r.Name(), Value: valueText(v)}
}

// String lists the rights held, with grades, or names the level it equals.
func (s Set) String() string {
	if l := s.Level(); l != Special {
		return l.String()
	}
	var b strings.Builder
	b.WriteString("special{")
	first := true
	for i := range catalogue {
		r := Right(i)
		if !s.Has(r) {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(r.Name())
		if r.Graded() {
			b.WriteByte('=')
			b.WriteString(r.GradeName(s.Grade(r)))
		}
	}
	b.WriteByte('}')
	return b.String()
}
