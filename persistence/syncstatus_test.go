package persistence

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func putSyncStatus(st *dirpb.DirectorySyncStatus) *dirpb.Command {
	return &dirpb.Command{Op: &dirpb.Command_PutDirectorySyncStatus{PutDirectorySyncStatus: &dirpb.PutDirectorySyncStatus{Status: st}}}
}

func TestDirectorySyncStatus_StoredReplacedAndChecked(t *testing.T) {
	n := newNode(t)
	if st, err := n.Store().DirectorySyncStatus(); st != nil || err != nil {
		t.Fatalf("before any sync: %v, %v; want nil, nil", st, err)
	}
	mustApply(t, n, putSyncStatus(&dirpb.DirectorySyncStatus{Node: "n1", StartedUnix: 100, FinishedUnix: 102, Created: 5}))
	mustApply(t, n, putSyncStatus(&dirpb.DirectorySyncStatus{Node: "n2", StartedUnix: 200, FinishedUnix: 200, DryRun: true}))
	st, err := n.Store().DirectorySyncStatus()
	if err != nil || st.Node != "n2" || !st.DryRun || st.Created != 0 {
		t.Fatalf("status = %v, %v; want the second one", st, err)
	}
	many := make([]string, maxSyncProblems+1)
	for i := range many {
		many[i] = fmt.Sprintf("uid=u%d,dc=x: duplicate id", i)
	}
	for name, bad := range map[string]*dirpb.DirectorySyncStatus{
		"missing":       nil,
		"no start":      {FinishedUnix: 5},
		"ends too soon": {StartedUnix: 10, FinishedUnix: 5},
		"too many":      {StartedUnix: 10, FinishedUnix: 10, Problems: many},
	} {
		if _, err := n.Apply(context.Background(), putSyncStatus(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if st, _ := n.Store().DirectorySyncStatus(); st.GetNode() != "n2" {
		t.Fatalf("a refused status replaced the stored one: %v", st)
	}
}
