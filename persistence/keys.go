package persistence

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// The keyspace is documented in docs/keyspace.md; keep the two in step.
// Every key starts with a namespace ("m/" metadata, "r/" Raft, "d/"
// directory) and a table name ending in '/'. Ids inside a key are separated
// by sep, which ids may not contain, so a prefix scan over "table/id<sep>"
// never strays into another id that merely starts the same way.
const sep = 0x00

// Namespaces. A snapshot holds exactly the keys under nsDir; Restore
// deletes [nsDir, nsDirEnd) and writes the snapshot's keys in one batch.
const (
	nsDir    = "d/"
	nsDirEnd = "d0" // '0' follows '/': the exclusive upper bound of nsDir
)

var (
	keySchema  = []byte("m/schema")
	keyNode    = []byte("m/node")
	keyApplied = []byte("m/applied")
)

// Raft tables.
const (
	tRaftLog    = "r/log/"
	tRaftStable = "r/stable/"
)

// Directory tables.
const (
	tUser          = "d/u/"  // user id → User
	tGroup         = "d/g/"  // group id → Group
	tGroupMembers  = "d/gm/" // group, user → Member
	tUserGroups    = "d/ug/" // user, group → Member
	tUserLeads     = "d/ul/" // user, group → Member (role "leader"/"deputy")
	tGroupNumber   = "d/gn/" // call number → Ref{id: group}
	tLine          = "d/l/"  // line number → Line
	tOwnerLines    = "d/lo/" // owner, number → empty
	tLineE164      = "d/le/" // public number (NormalizeE164) → Ref{id: line}
	tGrantByTarget = "d/gt/" // target, viewer → Grant (user layer)
	tGrantByViewer = "d/gv/" // viewer, target → empty
	tPresetTarget  = "d/pt/" // target, viewer → Grant (admin preset)
	tPresetViewer  = "d/pv/" // viewer, target → empty
	tGlobal        = "d/s/global"
	tTrunk         = "d/t/"  // trunk id → Trunk
	tRegistration  = "d/r/"  // line, contact → Registration
	tRegExpiry     = "d/rx/" // expires(8), line, contact → empty
	tJournalOwner  = "d/jo/" // owner, start(8) id → JournalEntry
	tJournalID     = "d/ji/" // entry id → Ref{id: owner, start_unix}
	tJournalTime   = "d/jt/" // start(8) id → Ref{id: owner}
	tHuntMemory    = "d/hm/" // group id → HuntMemory
	tExpiry        = "d/ex/" // until(8) kind(1), id, user → empty (expiry.go)
	tSyncStatus    = "d/s/dirsync"
	tSiteNode      = "d/sn/" // node id → SiteNode
)

const maxIDLen = 256

// checkID rejects ids that cannot be keys: empty, too long, not UTF-8, or
// holding the separator byte.
func checkID(field, id string) error {
	switch {
	case id == "":
		return invalidf("%s is empty", field)
	case len(id) > maxIDLen:
		return invalidf("%s is longer than %d bytes", field, maxIDLen)
	case !utf8.ValidString(id):
		return invalidf("%s=%q is not UTF-8", field, id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] == sep {
			return invalidf("%s=%q holds a NUL byte", field, id)
		}
	}
	return nil
}

// key joins a table and its parts with sep.
func key(table string, parts ...string) []byte {
	n := len(table) + len(parts)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, table...)
	for i, p := range parts {
		if i > 0 {
			k = append(k, sep)
		}
		k = append(k, p...)
	}
	return k
}

// prefix is the scan prefix of every key in table whose first part is id.
func prefix(table, id string) []byte { return append(key(table, id), sep) }

// prefixEnd is the exclusive upper bound of keys starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// timeKey encodes a unix time so that byte order is time order, negative
// times included.
func timeKey(unix int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(unix)^(1<<63))
	return string(b[:])
}

func parseTimeKey(b []byte) (int64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("persistence: time key of %d bytes: %w", len(b), ErrInvalid)
	}
	return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)), nil
}

func journalOwnerKey(owner string, start int64, id string) []byte {
	return key(tJournalOwner, owner, timeKey(start)+id)
}

func journalTimeKey(start int64, id string) []byte { return key(tJournalTime, timeKey(start)+id) }

func regExpiryKey(expires int64, line, contact string) []byte {
	return key(tRegExpiry, timeKey(expires)+line, contact)
}

// regExpiryBound ends the expiry index range of registrations expiring
// at or before now.
func regExpiryBound(now int64) []byte { return []byte(tRegExpiry + timeKey(now+1)) }

func raftLogKey(index uint64) []byte {
	k := make([]byte, len(tRaftLog)+8)
	copy(k, tRaftLog)
	binary.BigEndian.PutUint64(k[len(tRaftLog):], index)
	return k
}

func raftLogIndex(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(tRaftLog):]) }
