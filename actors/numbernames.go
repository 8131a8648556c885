package actors

import (
	"sync"

	"github.com/ucgrid/ucgrid/persistence"
)

// numberNames caches, per node, the display name behind a number for the
// journal (remoteName): every ended call wrote one entry per rung line and
// looked the caller's number up as a line and then as a call group each
// time, ~3.5 % of the node's CPU at 700 calls/s, most of it missing in
// Pebble for outside numbers. The cache is dropped whenever a user, line
// or group changes (persistence.Store.Generation), so a name is never
// older than the directory the lookup would have read.
type numberNames struct {
	mu    sync.Mutex
	at    uint64 // generation the names were read at
	names map[string]string
}

// maxNumberNames bounds the cache; past it, it starts again empty (one
// miss per number, as without a cache).
const maxNumberNames = 4096

// namesKinds are the records a number's name is read from.
var namesKinds = []persistence.Kind{persistence.KindUser, persistence.KindLine, persistence.KindGroup}

func (c *numberNames) name(s *persistence.Store, number string) string {
	if number == "" {
		return ""
	}
	gen := s.Generation(namesKinds...)
	c.mu.Lock()
	if c.names != nil && c.at == gen {
		if n, ok := c.names[number]; ok {
			c.mu.Unlock()
			return n
		}
	}
	c.mu.Unlock()
	n := lookUpName(s, number)
	c.mu.Lock()
	switch {
	case c.names == nil || gen > c.at || len(c.names) >= maxNumberNames:
		c.names, c.at = map[string]string{number: n}, gen
	case gen == c.at:
		c.names[number] = n
	}
	c.mu.Unlock()
	return n
}

// lookUpName is the display name behind a number that is a line or call
// group of this directory ("" otherwise). Names are not filtered by
// rights: contact search shows them to everyone.
func lookUpName(s *persistence.Store, number string) string {
	if l, err := s.Line(number); err == nil {
		if u, err := s.User(l.GetOwner()); err == nil {
			return u.GetDisplayName()
		}
		return ""
	}
	if gr, err := s.GroupByNumber(number); err == nil {
		return gr.GetName()
	}
	return ""
}
