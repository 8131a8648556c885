package dialplan

import (
	"fmt"
	"math/bits"
	"strings"
)

// alphabet is every character a dialled number may hold; a set is a bit
// mask over it.
const alphabet = "0123456789+*#"

type set uint16

const (
	anyChar set = 1<<len(alphabet) - 1
	digits  set = 1<<10 - 1
)

func charSet(c byte) (set, bool) {
	i := strings.IndexByte(alphabet, c)
	if i < 0 {
		return 0, false
	}
	return 1 << i, true
}

func (a set) has(c byte) bool {
	b, ok := charSet(c)
	return ok && a&b != 0
}

func (a set) subsetOf(b set) bool { return a&^b == 0 }

// Pattern is a parsed dial pattern: one set per position, then any
// suffix when open (a trailing "." is one more any-character position and
// an open end).
type Pattern struct {
	src  string
	pos  []set
	open bool
}

// String is the pattern as written.
func (p Pattern) String() string { return p.src }

// MinLen is the length of the shortest number the pattern matches.
func (p Pattern) MinLen() int { return len(p.pos) }

// ParsePattern reads a dial pattern (see the package doc).
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{src: s}
	body := strings.TrimPrefix(s, "_")
	if body == "" {
		return p, fmt.Errorf("dialplan: pattern %q is empty", s)
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '.' || c == '!':
			if i != len(body)-1 {
				return p, fmt.Errorf("dialplan: pattern %q: %q is only allowed at the end", s, c)
			}
			if c == '.' {
				p.pos = append(p.pos, anyChar)
			}
			p.open = true
		case c == '[':
			end := strings.IndexByte(body[i:], ']')
			if end < 0 {
				return p, fmt.Errorf("dialplan: pattern %q: %q has no closing ]", s, body[i:])
			}
			m, err := parseSet(body[i+1 : i+end])
			if err != nil {
				return p, fmt.Errorf("dialplan: pattern %q: %w", s, err)
			}
			p.pos = append(p.pos, m)
			i += end
		default:
			m, ok := wildcard(c)
			if !ok {
				return p, fmt.Errorf("dialplan: pattern %q: %q is not a digit, +, *, #, X, Z, N, a [set], . or !", s, c)
			}
			p.pos = append(p.pos, m)
		}
	}
	if len(p.pos) == 0 {
		return p, fmt.Errorf("dialplan: pattern %q matches the empty number", s)
	}
	return p, nil
}

// wildcard is the set of one pattern character outside brackets.
func wildcard(c byte) (set, bool) {
	switch c {
	case 'X', 'x':
		return digits, true
	case 'Z', 'z':
		return digits &^ 1, true
	case 'N', 'n':
		return digits &^ 3, true
	}
	return charSet(c)
}

// parseSet reads the inside of [..]: characters and ranges a-b, with
// optional commas between them.
func parseSet(s string) (set, error) {
	var m set
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ',' {
			continue
		}
		lo, ok := charSet(c)
		if !ok {
			return 0, fmt.Errorf("[%s]: %q is not a digit, +, * or #", s, c)
		}
		if i+2 < len(s) && s[i+1] == '-' {
			hi := s[i+2]
			if c < '0' || c > '9' || hi < c || hi > '9' {
				return 0, fmt.Errorf("[%s]: range %c-%c is not a rising digit range", s, c, hi)
			}
			for d := c; d <= hi; d++ {
				b, _ := charSet(d) // a digit: always in the alphabet
				m |= b
			}
			i += 2
			continue
		}
		m |= lo
	}
	if m == 0 {
		return 0, fmt.Errorf("[%s] is empty", s)
	}
	return m, nil
}

// Match reports whether number matches the whole pattern.
func (p Pattern) Match(number string) bool {
	if len(number) < len(p.pos) || !p.open && len(number) != len(p.pos) {
		return false
	}
	for i, m := range p.pos {
		if !m.has(number[i]) {
			return false
		}
	}
	for i := len(p.pos); i < len(number); i++ {
		if !anyChar.has(number[i]) {
			return false
		}
	}
	return true
}

// Within reports whether every number p matches, q matches too.
func (p Pattern) Within(q Pattern) bool {
	if len(q.pos) > len(p.pos) || p.open && !q.open || !p.open && len(q.pos) < len(p.pos) && !q.open {
		return false
	}
	for i, m := range q.pos {
		if !p.pos[i].subsetOf(m) {
			return false
		}
	}
	return true
}

// Overlaps reports whether some number matches both p and q.
func (p Pattern) Overlaps(q Pattern) bool {
	short, long := p, q
	if len(short.pos) > len(long.pos) {
		short, long = long, short
	}
	if len(short.pos) < len(long.pos) && !short.open {
		return false
	}
	for i, m := range short.pos {
		if m&long.pos[i] == 0 {
			return false
		}
	}
	return true
}

// example is one number the pattern matches (the smallest character of
// each position), for error messages.
func (p Pattern) example() string {
	b := make([]byte, len(p.pos))
	for i, m := range p.pos {
		b[i] = alphabet[bits.TrailingZeros16(uint16(m))]
	}
	return string(b)
}
