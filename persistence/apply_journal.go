package persistence

import (
	"fmt"
	"math"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// JournalID is the id the FSM gives a journal entry appended without one:
// derived from the Raft index, so it is the same on every node and the
// proposer knows it from the index Apply returns.
func JournalID(index uint64) string { return fmt.Sprintf("j%016x", index) }

// appendJournal stores a new entry of an existing owner. Whether a call is
// journaled at all (private lines) is the caller's decision.
func (t *txn) appendJournal(e *dirpb.JournalEntry) error {
	if e != nil && e.Id == "" {
		e.Id = JournalID(t.index)
	}
	if err := checkJournalEntry(e); err != nil {
		return err
	}
	if err := t.journalOwner(e); err != nil {
		return err
	}
	taken, err := t.exists(key(tJournalID, e.Id))
	if err != nil {
		return err
	}
	if taken {
		return conflictf("journal entry %q exists", e.Id)
	}
	if err := t.writeJournal(e); err != nil {
		return err
	}
	t.emit(Change{Kind: KindJournal, ID: e.Id, Users: []string{e.Owner}})
	return nil
}

// journalOwner checks that the owner of e exists, once per transaction.
func (t *txn) journalOwner(e *dirpb.JournalEntry) error {
	if _, ok := t.owners[e.Owner]; ok {
		return nil
	}
	if _, err := t.user(e.Owner); err != nil {
		return withContext(err, "owner of journal entry "+e.Id)
	}
	if t.owners == nil {
		t.owners = make(map[string]struct{})
	}
	t.owners[e.Owner] = struct{}{}
	return nil
}

func (t *txn) writeJournal(e *dirpb.JournalEntry) error {
	if err := t.put(journalOwnerKey(e.Owner, e.StartUnix, e.Id), e); err != nil {
		return err
	}
	if err := t.put(key(tJournalID, e.Id), &dirpb.Ref{Id: e.Owner, StartUnix: e.StartUnix}); err != nil {
		return err
	}
	return t.put(journalTimeKey(e.StartUnix, e.Id), &dirpb.Ref{Id: e.Owner})
}

// updateJournal changes the fields set in u of an existing entry.
func (t *txn) updateJournal(u *dirpb.UpdateJournal) error {
	if err := checkID("journal id", u.GetId()); err != nil {
		return err
	}
	e, err := t.journalEntry(u.Id)
	if err != nil {
		return err
	}
	if u.RingS != nil && *u.RingS < 0 || u.TalkS != nil && *u.TalkS < 0 {
		return invalidf("journal entry %q: negative durations", u.Id)
	}
	mergeJournal(e, u)
	if err := t.put(journalOwnerKey(e.Owner, e.StartUnix, e.Id), e); err != nil {
		return err
	}
	t.emit(Change{Kind: KindJournal, ID: e.Id, Users: []string{e.Owner}})
	return nil
}

func mergeJournal(e *dirpb.JournalEntry, u *dirpb.UpdateJournal) {
	if u.Private != nil {
		e.Private = *u.Private
	}
	if u.Note != nil {
		e.Note = *u.Note
	}
	if u.Outcome != nil {
		e.Outcome = *u.Outcome
	}
	if u.RingS != nil {
		e.RingS = *u.RingS
	}
	if u.TalkS != nil {
		e.TalkS = *u.TalkS
	}
}

// journalRow locates one entry in the three journal tables.
type journalRow struct {
	owner, id string
	start     int64
}

func (t *txn) deleteJournalRows(rows []journalRow) error {
	for _, r := range rows {
		if err := t.del(journalOwnerKey(r.owner, r.start, r.id), key(tJournalID, r.id), journalTimeKey(r.start, r.id)); err != nil {
			return err
		}
	}
	return nil
}

// purgeJournal deletes the entries that started before before, of owner
// or (owner empty) of everyone, and emits one change per owner touched.
func (t *txn) purgeJournal(before int64, owner string) error {
	var rows []journalRow
	var err error
	if owner != "" {
		if err := checkID("journal owner", owner); err != nil {
			return err
		}
		rows, err = t.journalOfOwner(owner, before)
	} else {
		rows, err = t.journalBefore(before)
	}
	if err != nil {
		return err
	}
	if err := t.deleteJournalRows(rows); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.owner] {
			seen[r.owner] = true
			t.emit(Change{Kind: KindJournal, Deleted: true, Users: []string{r.owner}})
		}
	}
	return nil
}

// journalOfOwner lists the entries of owner that started before before.
func (t *txn) journalOfOwner(owner string, before int64) ([]journalRow, error) {
	p := prefix(tJournalOwner, owner)
	hi := append(append([]byte(nil), p...), timeKey(before)...)
	var rows []journalRow
	err := t.scan(p, hi, func(k, _ []byte) error {
		start, err := parseTimeKey(k[len(p):])
		rows = append(rows, journalRow{owner: owner, start: start, id: string(k[len(p)+8:])})
		return err
	})
	return rows, err
}

// journalBefore lists every entry that started before before, through the
// time index (no scan over newer entries).
func (t *txn) journalBefore(before int64) ([]journalRow, error) {
	lo := []byte(tJournalTime)
	hi := []byte(tJournalTime + timeKey(before))
	var rows []journalRow
	err := t.scan(lo, hi, func(k, val []byte) error {
		start, err := parseTimeKey(k[len(lo):])
		if err != nil {
			return err
		}
		ref, err := decode(k, val, &dirpb.Ref{})
		rows = append(rows, journalRow{owner: ref.Id, start: start, id: string(k[len(lo)+8:])})
		return err
	})
	return rows, err
}

// dropJournalOf deletes the whole journal of owner (user deletion).
func (t *txn) dropJournalOf(owner string) error {
	rows, err := t.journalOfOwner(owner, math.MaxInt64)
	if err != nil {
		return err
	}
	return t.deleteJournalRows(rows)
}
