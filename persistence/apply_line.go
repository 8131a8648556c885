package persistence

import (
	"cmp"
	"slices"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// putLine creates or replaces a line. The owner must exist; the number must
// not be a group's call number; an owner has at most one primary line. An
// empty kind means "primary" when the owner has no other primary line,
// else "secondary".
// Empty digest fields and created_unix keep the stored ones, so changing
// forwarding need not carry the SIP credentials; a missing forwarding keeps
// the stored one (SetLineForwarding changes it alone).
func (t *txn) putLine(l *dirpb.Line) error {
	if err := checkLine(l); err != nil {
		return err
	}
	if err := t.checkLineRefs(l); err != nil {
		return err
	}
	old, err := orAbsent(t.line(l.Number))
	if err != nil {
		return err
	}
	if err := t.indexE164(old, l); err != nil {
		return err
	}
	keepLineSecrets(old, l)
	if old != nil && old.Owner != l.Owner {
		if err := t.del(key(tOwnerLines, old.Owner, l.Number)); err != nil {
			return err
		}
	}
	if err := t.putEmpty(key(tOwnerLines, l.Owner, l.Number)); err != nil {
		return err
	}
	if err := t.put(key(tLine, l.Number), l); err != nil {
		return err
	}
	t.emit(Change{Kind: KindLine, ID: l.Number, Users: lineUsers(old, l)})
	return nil
}

func keepLineSecrets(old, l *dirpb.Line) {
	if old == nil {
		return
	}
	if l.Ha1Md5 == "" && l.Ha1Sha256 == "" {
		l.Realm, l.Ha1Md5, l.Ha1Sha256 = old.Realm, old.Ha1Md5, old.Ha1Sha256
	}
	if l.CreatedUnix == 0 {
		l.CreatedUnix = old.CreatedUnix
	}
	if l.Forwarding == nil {
		l.Forwarding = old.Forwarding
	}
}

func (t *txn) checkLineRefs(l *dirpb.Line) error {
	if _, err := t.user(l.Owner); err != nil {
		return withContext(err, "owner of line "+l.Number)
	}
	group, err := orAbsent(t.groupByNumber(l.Number))
	if err != nil {
		return err
	}
	if group != "" {
		return conflictf("line number %q is the call number of group %q", l.Number, group)
	}
	primary, err := t.otherPrimary(l.Owner, l.Number)
	if err != nil {
		return err
	}
	switch {
	case l.Kind == "" && primary == "":
		l.Kind = dirpb.KindPrimary
	case l.Kind == "":
		l.Kind = dirpb.KindSecondary
	case l.Kind == dirpb.KindPrimary && primary != "":
		return conflictf("user %q already has primary line %q", l.Owner, primary)
	}
	return nil
}

// otherPrimary returns the owner's primary line other than number, if any.
func (t *txn) otherPrimary(owner, number string) (string, error) {
	numbers, err := t.ids(prefix(tOwnerLines, owner))
	if err != nil {
		return "", err
	}
	for _, n := range numbers {
		if n == number {
			continue
		}
		other, err := t.line(n)
		if err != nil {
			return "", err
		}
		if other.Kind == dirpb.KindPrimary { // not IsPrimary: a line stored before kinds existed does not count
			return n, nil
		}
	}
	return "", nil
}

func lineUsers(old, l *dirpb.Line) []string {
	if old == nil || old.Owner == l.Owner {
		return []string{l.Owner}
	}
	return sortedUnion([]string{old.Owner}, []string{l.Owner})
}

func (t *txn) deleteLine(number string) error {
	if err := checkID("line number", number); err != nil {
		return err
	}
	l, err := t.line(number)
	if err != nil {
		return err
	}
	return t.removeLine(l)
}

// removeLine deletes l, its owner index entry and its registrations.
func (t *txn) removeLine(l *dirpb.Line) error {
	regs, err := t.registrations(l.Number)
	if err != nil {
		return err
	}
	for _, r := range regs {
		if err := t.removeRegistration(r, l.Owner); err != nil {
			return err
		}
	}
	if err := t.indexE164(l, nil); err != nil {
		return err
	}
	if err := t.del(key(tOwnerLines, l.Owner, l.Number), key(tLine, l.Number)); err != nil {
		return err
	}
	t.emit(Change{Kind: KindLine, ID: l.Number, Deleted: true, Users: []string{l.Owner}})
	return nil
}

// putRegistration adds or refreshes one contact of an existing line.
func (t *txn) putRegistration(r *dirpb.Registration) error {
	if err := checkRegistration(r); err != nil {
		return err
	}
	l, err := t.line(r.Line)
	if err != nil {
		return err
	}
	old, err := orAbsent(t.registration(r.Line, r.Contact))
	if err != nil {
		return err
	}
	if old != nil {
		if err := t.del(regExpiryKey(old.ExpiresAtUnix, old.Line, old.Contact)); err != nil {
			return err
		}
	}
	if err := t.put(key(tRegistration, r.Line, r.Contact), r); err != nil {
		return err
	}
	if err := t.putEmpty(regExpiryKey(r.ExpiresAtUnix, r.Line, r.Contact)); err != nil {
		return err
	}
	t.emit(Change{Kind: KindRegistration, ID: r.Line, Contact: r.Contact, Users: []string{l.Owner}})
	return nil
}

func (t *txn) deleteRegistration(line, contact string) error {
	if err := checkRegistration(&dirpb.Registration{Line: line, Contact: contact}); err != nil {
		return err
	}
	r, err := t.registration(line, contact)
	if err != nil {
		return err
	}
	return t.removeRegistration(r, t.lineOwner(line))
}

func (t *txn) lineOwner(number string) string {
	l, err := t.line(number)
	if err != nil {
		return "" // a registration always has its line; tolerate a gap
	}
	return l.Owner
}

func (t *txn) removeRegistration(r *dirpb.Registration, owner string) error {
	if err := t.del(key(tRegistration, r.Line, r.Contact), regExpiryKey(r.ExpiresAtUnix, r.Line, r.Contact)); err != nil {
		return err
	}
	t.emit(Change{Kind: KindRegistration, ID: r.Line, Contact: r.Contact, Deleted: true, Users: usersOf(owner)})
	return nil
}

func usersOf(id string) []string {
	if id == "" {
		return nil
	}
	return []string{id}
}

// expireRegistrations removes every registration with expires_at_unix <= now.
func (t *txn) expireRegistrations(now int64) error {
	type lc struct{ line, contact string }
	var due []lc
	err := t.scan([]byte(tRegExpiry), regExpiryBound(now), func(k, _ []byte) error {
		rest := k[len(tRegExpiry)+8:]
		for i, c := range rest {
			if c == sep {
				due = append(due, lc{string(rest[:i]), string(rest[i+1:])})
				return nil
			}
		}
		return nil // malformed index key: ignored, the registration stays
	})
	if err != nil {
		return err
	}
	for _, d := range due {
		r, err := t.registration(d.line, d.contact)
		if err != nil {
			return err
		}
		if err := t.removeRegistration(r, t.lineOwner(d.line)); err != nil {
			return err
		}
	}
	return nil
}

// updateRegistrations applies one REGISTER to a line's bindings in one
// entry: removals first, then the put contacts.
func (t *txn) updateRegistrations(u *dirpb.UpdateRegistrations) error {
	line := u.GetLine()
	l, err := t.line(line)
	if err != nil {
		return err
	}
	// Validate everything before the first write: a rejected command
	// leaves the directory as it was.
	for _, r := range u.GetPut() {
		if r.GetLine() != line {
			return invalidf("registration of line %q in an update of line %q", r.GetLine(), line)
		}
		if err := checkRegistration(r); err != nil {
			return err
		}
	}
	var gone []*dirpb.Registration
	if u.GetRemoveAll() {
		if gone, err = t.registrations(line); err != nil {
			return err
		}
	} else {
		for _, c := range u.GetRemove() {
			r, err := orAbsent(t.registration(line, c))
			if err != nil {
				return err
			}
			if r != nil {
				gone = append(gone, r)
			}
		}
	}
	for _, r := range gone {
		if err := t.removeRegistration(r, l.Owner); err != nil {
			return err
		}
	}
	for _, r := range u.GetPut() {
		if err := t.putRegistration(r); err != nil {
			return err
		}
	}
	return t.capRegistrations(line, l.Owner, u.GetPut())
}

// MaxContactsPerLine bounds a line's bindings: one INVITE forks to at
// most this many phones. A REGISTER that would bind more replaces the
// oldest bindings (earliest registered; the ones it puts count as the
// newest).
const MaxContactsPerLine = 10

// capRegistrations removes line's oldest bindings beyond
// MaxContactsPerLine. The order is a function of the stored records and
// the command only, so every replica removes the same ones.
func (t *txn) capRegistrations(line, owner string, put []*dirpb.Registration) error {
	regs, err := t.registrations(line)
	if err != nil || len(regs) <= MaxContactsPerLine {
		return err
	}
	fresh := make(map[string]int, len(put))
	for i, r := range put {
		fresh[r.GetContact()] = i + 1
	}
	slices.SortStableFunc(regs, func(a, b *dirpb.Registration) int {
		if c := cmp.Compare(fresh[a.GetContact()], fresh[b.GetContact()]); c != 0 {
			return c // not put by this command first, then in put order
		}
		if c := cmp.Compare(a.GetRegisteredUnix(), b.GetRegisteredUnix()); c != 0 {
			return c
		}
		return cmp.Compare(a.GetContact(), b.GetContact())
	})
	for _, r := range regs[:len(regs)-MaxContactsPerLine] {
		if err := t.removeRegistration(r, owner); err != nil {
			return err
		}
	}
	return nil
}

// indexE164 moves the public-number index from old's e164 to l's (either
// nil: a new or a deleted line). A public number belongs to one line: one
// another line holds is refused (ErrConflict) before anything is written.
func (t *txn) indexE164(old, l *dirpb.Line) error {
	from, to := NormalizeE164(old.GetE164()), NormalizeE164(l.GetE164())
	if to != "" && to != from {
		ref, err := orAbsent(get(t.view, key(tLineE164, to), &dirpb.Ref{}, "public number", to))
		if err != nil {
			return err
		}
		if ref != nil && ref.Id != l.GetNumber() {
			return conflictf("e164 %q is the public number of line %q", l.GetE164(), ref.Id)
		}
	}
	if from == to {
		return nil
	}
	if from != "" {
		if err := t.del(key(tLineE164, from)); err != nil {
			return err
		}
	}
	if to != "" {
		return t.put(key(tLineE164, to), &dirpb.Ref{Id: l.GetNumber()})
	}
	return nil
}
