package persistence

import "github.com/ucgrid/ucgrid/persistence/dirpb"

// JournalCursor is a position in a journal: the entry it names is
// excluded from the next page.
type JournalCursor struct {
	StartUnix int64
	ID        string
}

// JournalPageQuery selects one page of one owner's journal.
type JournalPageQuery struct {
	Owner string
	// FromUnix and ToUnix bound the start time: FromUnix <= start < ToUnix.
	// ToUnix 0 means no upper bound.
	FromUnix, ToUnix int64
	// After continues from the entry a previous page ended with.
	After *JournalCursor
	// Oldest returns the oldest entries first; the default is newest first.
	Oldest bool
	// Limit caps the page; 0 (or above 1000) means 1000.
	Limit int
	// Keep, when set, leaves out the entries it rejects (they neither count
	// towards Limit nor show in the cursor).
	Keep func(*dirpb.JournalEntry) bool
}

// JournalPage returns one page of q.Owner's journal and the cursor of the
// next page (nil when no further entry is kept).
func (s *Store) JournalPage(q JournalPageQuery) ([]*dirpb.JournalEntry, *JournalCursor, error) {
	p := prefix(tJournalOwner, q.Owner)
	lo := append(append([]byte(nil), p...), timeKey(q.FromUnix)...)
	hi := prefixEnd(p)
	if q.ToUnix != 0 {
		hi = append(append([]byte(nil), p...), timeKey(q.ToUnix)...)
	}
	if c := q.After; c != nil {
		at := append(append([]byte(nil), p...), timeKey(c.StartUnix)+c.ID...)
		if q.Oldest {
			lo = maxKey(lo, append(at, 0)) // the smallest key after the cursor's
		} else {
			hi = minKey(hi, at)
		}
	}
	limit := q.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	var out []*dirpb.JournalEntry
	var next *JournalCursor
	collect := func(k, val []byte) error {
		e, err := decode(k, val, &dirpb.JournalEntry{})
		if err != nil {
			return err
		}
		if q.Keep != nil && !q.Keep(e) {
			return nil
		}
		if len(out) == limit {
			last := out[len(out)-1]
			next = &JournalCursor{StartUnix: last.StartUnix, ID: last.Id}
			return errStop
		}
		out = append(out, e)
		return nil
	}
	var err error
	if q.Oldest {
		err = s.view().scan(lo, hi, collect)
	} else {
		err = s.view().scanReverse(lo, hi, collect)
	}
	if err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

func maxKey(a, b []byte) []byte {
	if string(a) >= string(b) {
		return a
	}
	return b
}

func minKey(a, b []byte) []byte {
	if string(a) <= string(b) {
		return a
	}
	return b
}

// JournalBefore reports whether any journal entry (of anyone) started
// before unix: whether a retention purge at that cut would delete
// anything. One seek on the time index.
func (s *Store) JournalBefore(unix int64) (bool, error) {
	return s.view().anyIn([]byte(tJournalTime), []byte(tJournalTime+timeKey(unix)))
}

// ChatBefore reports whether any chat message was sent before unix.
func (s *Store) ChatBefore(unix int64) (bool, error) {
	return s.view().anyIn([]byte(tChatTime), []byte(tChatTime+timeKey(unix)))
}

// anyIn reports whether [lo, hi) holds a key.
func (v view) anyIn(lo, hi []byte) (bool, error) {
	found := false
	err := v.scan(lo, hi, func(_, _ []byte) error {
		found = true
		return errStop
	})
	return found, err
}
