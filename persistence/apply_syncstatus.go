package persistence

import (
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// maxSyncProblems bounds the problems one stored sync status keeps: a
// directory with thousands of bad entries must not make one Raft entry
// megabytes long. The sync's own answer carries them all.
const maxSyncProblems = 200

// putDirectorySyncStatus stores the outcome of the last directory sync
// (LDAP / Active Directory), replacing the one before. It emits no
// change: nothing derived from the directory depends on it.
func (t *txn) putDirectorySyncStatus(s *dirpb.DirectorySyncStatus) error {
	if s == nil {
		return invalidf("directory sync status is missing")
	}
	if s.StartedUnix <= 0 || s.FinishedUnix < s.StartedUnix {
		return invalidf("directory sync status: started_unix=%d and finished_unix=%d are not a span", s.StartedUnix, s.FinishedUnix)
	}
	if len(s.Problems) > maxSyncProblems {
		return invalidf("directory sync status holds %d problems, more than %d", len(s.Problems), maxSyncProblems)
	}
	return t.put([]byte(tSyncStatus), s)
}

// DirectorySyncStatus returns the outcome of the last directory sync; nil
// without error when none ran yet.
func (s *Store) DirectorySyncStatus() (*dirpb.DirectorySyncStatus, error) {
	st := &dirpb.DirectorySyncStatus{}
	found, err := getProto(s.view().r, []byte(tSyncStatus), st)
	if err != nil || !found {
		return nil, err
	}
	return st, nil
}
