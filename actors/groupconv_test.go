package actors

import (
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/hunt"
	"github.com/ucgrid/ucgrid/actors/officehours"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// A stored group reads as the schedule, override and hunt configuration
// the pure packages decide on: weekday hours with a break in the group's
// zone (across the spring DST change), a dated holiday, the override's
// expiry, timeouts in seconds.
func TestGroupRecord_ReadsAsScheduleOverrideAndHuntGroup(t *testing.T) {
	rec := &dirpb.Group{
		Id: "desk", Timezone: "Europe/Berlin",
		OfficeHours: &dirpb.OfficeHours{
			Days: []*dirpb.DayHours{
				{Weekday: int32(time.Monday), Open: []*dirpb.Interval{{FromMin: 8 * 60, ToMin: 17 * 60}}, Breaks: []*dirpb.Interval{{FromMin: 12 * 60, ToMin: 12*60 + 30}}},
				{Weekday: int32(time.Sunday), Open: []*dirpb.Interval{{FromMin: 1 * 60, ToMin: 4 * 60}}},
			},
			Holidays: []*dirpb.Holiday{{Date: "2026-12-28", Name: "Bridge day"}},
		},
		Override: "closed", OverrideUntilUnix: time.Date(2026, 3, 30, 10, 0, 0, 0, time.UTC).Unix(),
		Members: []*dirpb.Member{{User: "anna"}, {User: "ben", LoggedOut: true}},
		CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "700", Strategy: "longest_idle", RingTimeoutS: 40,
			MemberTimeoutS: 8, SkipBusy: true, NoAnswerTarget: "199", ClosedTarget: "800"},
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s, o := scheduleOf(rec), overrideOf(rec)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Time
		open bool
	}{
		{time.Date(2026, 3, 30, 9, 0, 0, 0, berlin), false},   // override closed until 12:00 Berlin (10:00 UTC)
		{time.Date(2026, 3, 30, 12, 15, 0, 0, berlin), false}, // override over, lunch break
		{time.Date(2026, 3, 30, 12, 45, 0, 0, berlin), true},
		{time.Date(2026, 3, 30, 17, 0, 0, 0, berlin), false},
		{time.Date(2026, 12, 28, 9, 0, 0, 0, berlin), false}, // holiday Monday
		// Sunday 29 March 2026: clocks go from 02:00 to 03:00 in Berlin;
		// 01:00–04:00 wall time is open, which is two real hours.
		{time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), true},  // 01:30 CET
		{time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), true},  // 03:30 CEST
		{time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC), false}, // 04:30 CEST
	}
	for _, tt := range tests {
		ov := o
		if tt.at.Before(time.Date(2026, 3, 30, 0, 0, 0, 0, berlin)) {
			ov = officehours.Override{} // the DST rows: schedule only
		}
		if got := officehours.Verdict(s, ov, tt.at); got.Open != tt.open {
			t.Errorf("at %s: %s, want open=%v", tt.at.In(berlin).Format(time.RFC3339), got, tt.open)
		}
	}
	g := huntGroupOf(rec, map[string]memberStatus{"anna": {reachable: true, busy: true}})
	want := hunt.Group{ID: "desk", Strategy: hunt.LongestIdle, RingTimeout: 40 * time.Second, MemberTimeout: 8 * time.Second,
		SkipBusy: true, NoAnswerTarget: "199", ClosedTarget: "800",
		Members: []hunt.Member{{User: "anna", LoggedIn: true, Busy: true, Reachable: true}, {User: "ben"}}}
	if got := g; got.ID != want.ID || got.Strategy != want.Strategy || got.RingTimeout != want.RingTimeout ||
		got.MemberTimeout != want.MemberTimeout || !got.SkipBusy || got.NoAnswerTarget != "199" || got.ClosedTarget != "800" ||
		len(got.Members) != 2 || got.Members[0] != want.Members[0] || got.Members[1] != want.Members[1] {
		t.Errorf("hunt group %+v, want %+v", got, want)
	}
	if (overrideOf(&dirpb.Group{Override: "bogus"})) != (officehours.Override{}) {
		t.Error("an unknown stored override does not read as auto")
	}
}
