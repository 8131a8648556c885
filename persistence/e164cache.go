package persistence

import (
	"strings"
	"sync"
)

// e164Cache maps the lines' public numbers (Line.e164) to line numbers
// for calls in from trunks, renewed after each committed line change.
type e164Cache struct {
	mu    sync.Mutex
	valid bool
	at    uint64 // Generation(KindLine) the map was read at
	lines map[string]string
}

// NormalizeE164 is the form public numbers are compared in: without a
// leading "+" or "00" (a carrier may send either).
func NormalizeE164(n string) string {
	if s, ok := strings.CutPrefix(n, "+"); ok {
		return s
	}
	if s, ok := strings.CutPrefix(n, "00"); ok {
		return s
	}
	return n
}

// LineByE164 returns the number of the line whose e164 is number
// (compared in NormalizeE164's form); false when none is. When two lines
// share one, the lower line number wins.
func (s *Store) LineByE164(number string) (string, bool, error) {
	c := &s.e164
	gen := s.Generation(KindLine)
	c.mu.Lock()
	if c.valid && c.at == gen {
		line, ok := c.lines[NormalizeE164(number)]
		c.mu.Unlock()
		return line, ok, nil
	}
	c.mu.Unlock()
	m, err := s.readE164()
	if err != nil {
		return "", false, err
	}
	c.mu.Lock()
	if !c.valid || gen >= c.at {
		c.valid, c.at, c.lines = true, gen, m
	}
	c.mu.Unlock()
	line, ok := m[NormalizeE164(number)]
	return line, ok, nil
}

func (s *Store) readE164() (map[string]string, error) {
	m := map[string]string{}
	after := ""
	for {
		page, next, err := s.ListLines(after, 0)
		if err != nil {
			return nil, err
		}
		for _, l := range page {
			k := NormalizeE164(l.GetE164())
			if _, dup := m[k]; k != "" && !dup {
				m[k] = l.GetNumber()
			}
		}
		if next == "" {
			return m, nil
		}
		after = next
	}
}
