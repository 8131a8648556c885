package ldapsync

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/internal/testdir"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func TestRunner_DueFollowsTheStoredSchedule(t *testing.T) {
	dir := testdir.Open(t, persistence.Config{})
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c, err := Parse([]byte(minimal + "watch: 15m\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(RunnerConfig{Config: c, Directory: dir, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if !r.due(r.Interval()) {
		t.Fatal("no sync ran yet, and none is due")
	}
	// Another node (the leader before) synced five minutes ago.
	st := &dirpb.DirectorySyncStatus{Node: "old-leader", StartedUnix: clock.Add(-5 * time.Minute).Unix(), FinishedUnix: clock.Add(-5 * time.Minute).Unix()}
	if _, err := dir.Apply(context.Background(), &dirpb.Command{Op: &dirpb.Command_PutDirectorySyncStatus{
		PutDirectorySyncStatus: &dirpb.PutDirectorySyncStatus{Status: st}}}); err != nil {
		t.Fatal(err)
	}
	if r.due(r.Interval()) {
		t.Fatal("due five minutes after a sync with watch 15m")
	}
	clock = clock.Add(10 * time.Minute)
	if !r.due(r.Interval()) {
		t.Fatal("not due fifteen minutes after the last sync")
	}
}

func TestFillCounts_StoredProblemsBoundedAnswerComplete(t *testing.T) {
	p := &Plan{Unchanged: 7}
	for i := range maxStoredProblems + 50 {
		p.Problems = append(p.Problems, "uid=u,dc=x: problem "+string(rune('a'+i%26)))
	}
	p.Actions = []Action{{Op: OpCreate}, {Op: OpUpdate}, {Op: OpUpdate}, {Op: OpDisable}}
	st := &dirpb.DirectorySyncStatus{}
	fillCounts(st, p)
	if st.Created != 1 || st.Updated != 2 || st.Disabled != 1 || st.Unchanged != 7 {
		t.Fatalf("counts = %v", st)
	}
	if len(st.Problems) != maxStoredProblems || !strings.Contains(st.Problems[maxStoredProblems-1], "and 51 more problems") {
		t.Fatalf("stored %d problems, last %q", len(st.Problems), st.Problems[len(st.Problems)-1])
	}
	if len(p.Problems) != maxStoredProblems+50 {
		t.Fatalf("the plan lost problems: %d", len(p.Problems))
	}
}
