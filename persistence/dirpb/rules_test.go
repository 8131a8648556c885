package dirpb

import (
	"testing"
	"time"
)

func TestGroup_TakesSIPCalls(t *testing.T) {
	cases := []struct {
		name string
		g    *Group
		want bool
	}{
		{"no group", nil, false},
		{"no call group", &Group{Id: "g", Active: true}, false},
		{"no number", &Group{CallGroup: &CallGroup{Mode: ModeSIP}}, false},
		{"mode sip", &Group{CallGroup: &CallGroup{Mode: ModeSIP, Number: "500"}}, true},
		{"no mode (stored before modes)", &Group{CallGroup: &CallGroup{Number: "500"}}, true},
		{"mode disabled", &Group{CallGroup: &CallGroup{Mode: ModeDisabled, Number: "500"}}, false},
		{"mode external", &Group{CallGroup: &CallGroup{Mode: ModeExternal, Number: "500"}}, false},
		{"unknown mode", &Group{CallGroup: &CallGroup{Mode: "fax", Number: "500"}}, false},
		{"inactive group still takes calls", &Group{Active: false, CallGroup: &CallGroup{Mode: ModeSIP, Number: "500"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.TakesSIPCalls(); got != tc.want {
				t.Errorf("TakesSIPCalls() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLine_IsPrimary(t *testing.T) {
	cases := []struct {
		kind string
		want bool
	}{
		{KindPrimary, true},
		{"", true}, // stored before kinds existed
		{KindSecondary, false},
	}
	for _, tc := range cases {
		if got := (&Line{Number: "100", Kind: tc.kind}).IsPrimary(); got != tc.want {
			t.Errorf("kind %q: IsPrimary() = %v, want %v", tc.kind, got, tc.want)
		}
	}
}

func TestLive_ExpiresAfterNowToTheSecond(t *testing.T) {
	now := time.Unix(1000, 900_000_000) // 1000.9 s: the second counts, not the fraction
	cases := []struct {
		name    string
		expires int64
		want    bool
	}{
		{"expired long ago", 10, false},
		{"expired a second ago", 999, false},
		{"expires this second (the sweep at 1000 removes it)", 1000, false},
		{"expires next second", 1001, true},
		{"no expiry", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Live(&Registration{Line: "100", Contact: "sip:a@h", ExpiresAtUnix: tc.expires}, now); got != tc.want {
				t.Errorf("Live(expires %d at %v) = %v, want %v", tc.expires, now, got, tc.want)
			}
		})
	}
	if Live((*Registration)(nil), now) {
		t.Error("a nil registration is live")
	}
}

func TestLiveOnly_KeepsLiveInOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	regs := []*Registration{
		{Contact: "sip:a@h", ExpiresAtUnix: 2000},
		{Contact: "sip:b@h", ExpiresAtUnix: 1000},
		{Contact: "sip:c@h", ExpiresAtUnix: 1500},
		{Contact: "sip:d@h", ExpiresAtUnix: 5},
	}
	got := LiveOnly(regs, now)
	if len(got) != 2 || got[0].Contact != "sip:a@h" || got[1].Contact != "sip:c@h" {
		t.Fatalf("LiveOnly = %v, want a and c", got)
	}
	got[0] = nil
	if regs[0] == nil {
		t.Error("LiveOnly shares its result with its input")
	}
	if got := LiveOnly([]*Registration(nil), now); got == nil || len(got) != 0 {
		t.Errorf("LiveOnly(nil) = %#v, want empty", got)
	}
}
