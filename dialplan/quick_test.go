package dialplan

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

// naive turns a pattern into a regular expression: the obviously correct
// reference for Match.
func naive(t *testing.T, pattern string) *regexp.Regexp {
	t.Helper()
	var b strings.Builder
	b.WriteString("^")
	body := strings.TrimPrefix(pattern, "_")
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case 'X':
			b.WriteString("[0-9]")
		case 'Z':
			b.WriteString("[1-9]")
		case 'N':
			b.WriteString("[2-9]")
		case '.':
			b.WriteString(`[0-9+*#]+`)
		case '!':
			b.WriteString(`[0-9+*#]*`)
		case '[':
			end := strings.IndexByte(body[i:], ']')
			b.WriteString("[" + strings.ReplaceAll(body[i+1:i+end], ",", "") + "]")
			i += end
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// randomPattern draws short patterns whose literals are 0-3 and +, so
// that the numbers over reps below tell every two patterns apart.
func randomPattern(rng *rand.Rand) string {
	atoms := []string{"0", "1", "2", "3", "+", "X", "Z", "N", "[1-2]", "[0,3]", "[2-3,+]"}
	var b strings.Builder
	b.WriteString("_")
	n := 1 + rng.IntN(3)
	for range n {
		b.WriteString(atoms[rng.IntN(len(atoms))])
	}
	switch rng.IntN(3) {
	case 1:
		b.WriteString(".")
	case 2:
		b.WriteString("!")
	}
	return b.String()
}

// reps holds one character of each class no random pattern tells apart.
const reps = "01234+*"

func allNumbers(maxLen int) []string {
	out := []string{""}
	layer := []string{""}
	for range maxLen {
		var next []string
		for _, s := range layer {
			for i := 0; i < len(reps); i++ {
				next = append(next, s+reps[i:i+1])
			}
		}
		out = append(out, next...)
		layer = next
	}
	return out
}

func TestPatterns_AgreeWithNaiveMatcher(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	numbers := allNumbers(5) // patterns have at most 4 positions: a 5th tells open from closed
	for range 60 {
		ps, qs := randomPattern(rng), randomPattern(rng)
		p, err := ParsePattern(ps)
		if err != nil {
			t.Fatalf("%s: %v", ps, err)
		}
		q, err := ParsePattern(qs)
		if err != nil {
			t.Fatalf("%s: %v", qs, err)
		}
		pr, qr := naive(t, ps), naive(t, qs)
		within, overlaps := true, false
		for _, n := range numbers {
			pm, qm := p.Match(n), q.Match(n)
			if pm != pr.MatchString(n) {
				t.Fatalf("%s.Match(%q) = %v, the regexp says otherwise", ps, n, pm)
			}
			if qm != qr.MatchString(n) {
				t.Fatalf("%s.Match(%q) = %v, the regexp says otherwise", qs, n, qm)
			}
			if pm && !qm {
				within = false
			}
			if pm && qm {
				overlaps = true
			}
		}
		if got := p.Within(q); got != within {
			t.Errorf("%s.Within(%s) = %v, enumeration says %v", ps, qs, got, within)
		}
		if got := p.Overlaps(q); got != overlaps {
			t.Errorf("%s.Overlaps(%s) = %v, enumeration says %v", ps, qs, got, overlaps)
		}
		if overlaps && !p.Match(common(p, q)) || overlaps && !q.Match(common(p, q)) {
			t.Errorf("common(%s, %s) = %q matches not both", ps, qs, common(p, q))
		}
	}
}
