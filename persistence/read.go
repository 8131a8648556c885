package persistence

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// view reads the directory through any Pebble reader: the database for the
// public API, the FSM's indexed batch (which sees its own writes) while
// applying, a snapshot while streaming.
type view struct{ r pebble.Reader }

func (s *Store) view() view { return view{s.db} }

// get reads one record; a missing record is a CodeNotFound *CommandError
// (errors.Is(err, ErrNotFound)) naming what.
func get[T proto.Message](v view, k []byte, m T, what string, id string) (T, error) {
	found, err := getProto(v.r, k, m)
	if err != nil {
		var zero T
		return zero, err
	}
	if !found {
		var zero T
		return zero, notFoundf("%s %q", what, id)
	}
	return m, nil
}

func (v view) exists(k []byte) (bool, error) {
	_, closer, err := v.r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("persistence: read %q: %w", k, err)
	}
	return true, closer.Close()
}

// scan calls fn for every key in [lo, hi) in order until fn returns
// errStop or an error.
func (v view) scan(lo, hi []byte, fn func(k, val []byte) error) error {
	return v.walk(lo, hi, false, fn)
}

// scanReverse is scan from the last key down.
func (v view) scanReverse(lo, hi []byte, fn func(k, val []byte) error) error {
	return v.walk(lo, hi, true, fn)
}

func (v view) walk(lo, hi []byte, reverse bool, fn func(k, val []byte) error) error {
	it, err := v.r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("persistence: scan %q: %w", lo, err)
	}
	first, next := it.First, it.Next
	if reverse {
		first, next = it.Last, it.Prev
	}
	for ok := first(); ok; ok = next() {
		val, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), val)
		}
		if errors.Is(err, errStop) {
			break
		}
		if err != nil {
			_ = it.Close() // the callback's error is the one to report
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("persistence: scan %q: %w", lo, err)
	}
	return nil
}

// scanPrefix scans every key starting with p.
func (v view) scanPrefix(p []byte, fn func(k, val []byte) error) error {
	return v.scan(p, prefixEnd(p), fn)
}

// errStop ends a scan early without error.
var errStop = errors.New("persistence: stop scan")

// ids returns the last key part of every key under p (index tables whose
// keys end in the id they point to).
func (v view) ids(p []byte) ([]string, error) {
	var out []string
	err := v.scanPrefix(p, func(k, _ []byte) error {
		out = append(out, string(k[len(p):]))
		return nil
	})
	return out, err
}

func decode[T proto.Message](k, val []byte, m T) (T, error) {
	if err := proto.Unmarshal(val, m); err != nil {
		return m, fmt.Errorf("persistence: decode %q: %w", k, err)
	}
	return m, nil
}

func (v view) user(id string) (*dirpb.User, error) {
	return get(v, key(tUser, id), &dirpb.User{}, "user", id)
}

func (v view) group(id string) (*dirpb.Group, error) {
	return get(v, key(tGroup, id), &dirpb.Group{}, "group", id)
}

func (v view) line(number string) (*dirpb.Line, error) {
	return get(v, key(tLine, number), &dirpb.Line{}, "line", number)
}

func (v view) trunk(id string) (*dirpb.Trunk, error) {
	return get(v, key(tTrunk, id), &dirpb.Trunk{}, "trunk", id)
}

// global returns the global settings; before any were stored, the zero
// value (the rights engine applies its own default level).
func (v view) global() (*dirpb.Global, error) {
	g := &dirpb.Global{}
	_, err := getProto(v.r, []byte(tGlobal), g)
	return g, err
}

func (v view) grant(table, target, viewer string) (*dirpb.Grant, error) {
	return get(v, key(table, target, viewer), &dirpb.Grant{}, "grant", target+"→"+viewer)
}

func (v view) registration(line, contact string) (*dirpb.Registration, error) {
	return get(v, key(tRegistration, line, contact), &dirpb.Registration{}, "registration", line+" "+contact)
}

func (v view) registrations(line string) ([]*dirpb.Registration, error) {
	var out []*dirpb.Registration
	err := v.scanPrefix(prefix(tRegistration, line), func(k, val []byte) error {
		r, err := decode(k, val, &dirpb.Registration{})
		out = append(out, r)
		return err
	})
	return out, err
}

// groupByNumber returns the id of the group whose call number is number.
func (v view) groupByNumber(number string) (string, error) {
	ref, err := get(v, key(tGroupNumber, number), &dirpb.Ref{}, "call number", number)
	if err != nil {
		return "", err
	}
	return ref.Id, nil
}

func (v view) journalEntry(id string) (*dirpb.JournalEntry, error) {
	ref, err := get(v, key(tJournalID, id), &dirpb.Ref{}, "journal entry", id)
	if err != nil {
		return nil, err
	}
	return get(v, journalOwnerKey(ref.Id, ref.StartUnix, id), &dirpb.JournalEntry{}, "journal entry", id)
}
