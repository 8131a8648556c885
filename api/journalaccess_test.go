package api

import (
	"testing"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Who may read and modify whose journal, by group option, activity, role
// and membership (spec/group_options.tsv).
func TestJournalAccessOf_GroupOptions(t *testing.T) {
	grp := func(active, leaderVisible, groupVisible, modifiable bool) *dirpb.Group {
		return &dirpb.Group{Id: "g", Active: active, Leader: "lea", Deputy: "dep", JournalLeaderVisible: leaderVisible,
			JournalGroupVisible: groupVisible, JournalModifiable: modifiable}
	}
	member := map[string]bool{"g": true}
	tests := []struct {
		name         string
		caller       string
		system       bool
		groups       []*dirpb.Group
		callerGroups map[string]bool
		read, modify bool
	}{
		{"owner", "own", false, nil, nil, true, true},
		{"stranger", "x", false, []*dirpb.Group{grp(true, true, true, true)}, nil, false, false},
		{"leader, leader_visible", "lea", false, []*dirpb.Group{grp(true, true, false, false)}, nil, true, false},
		{"deputy, leader_visible, modifiable", "dep", false, []*dirpb.Group{grp(true, true, false, true)}, nil, true, true},
		{"leader, option off", "lea", false, []*dirpb.Group{grp(true, false, false, true)}, nil, false, false},
		{"leader, group inactive", "lea", false, []*dirpb.Group{grp(false, true, true, true)}, nil, false, false},
		{"member, group_visible", "mem", false, []*dirpb.Group{grp(true, false, true, false)}, member, true, false},
		{"member, group_visible, modifiable", "mem", false, []*dirpb.Group{grp(true, false, true, true)}, member, true, true},
		{"member, only leader_visible", "mem", false, []*dirpb.Group{grp(true, true, false, true)}, member, false, false},
		{"member, inactive", "mem", false, []*dirpb.Group{grp(false, false, true, true)}, member, false, false},
		{"member of another group", "mem", false, []*dirpb.Group{grp(true, false, true, true)}, map[string]bool{"h": true}, false, false},
		{"leader not a member, group_visible only", "lea", false, []*dirpb.Group{grp(true, false, true, true)}, nil, false, false},
		{"system role: support read", "adm", true, nil, nil, true, false},
		{"system role and modifiable group", "adm", true, []*dirpb.Group{grp(true, false, true, true)}, member, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := journalAccessOf(tc.caller, "own", tc.system, tc.groups, tc.callerGroups)
			if a.read != tc.read || a.modify != tc.modify {
				t.Errorf("read %v modify %v, want %v %v", a.read, a.modify, tc.read, tc.modify)
			}
			private := &dirpb.JournalEntry{Private: true}
			if a.shows(private) != (tc.caller == "own") {
				t.Errorf("private entry shown: %v", a.shows(private))
			}
		})
	}
}
