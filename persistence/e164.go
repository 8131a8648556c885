package persistence

import (
	"strings"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

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
// (compared in NormalizeE164's form); false when none is. The directory
// keeps an index of them (a public number belongs to one line).
func (s *Store) LineByE164(number string) (string, bool, error) {
	n := NormalizeE164(number)
	if n == "" {
		return "", false, nil
	}
	ref, err := orAbsent(get(s.view(), key(tLineE164, n), &dirpb.Ref{}, "public number", n))
	if err != nil || ref == nil {
		return "", false, err
	}
	return ref.Id, true, nil
}
