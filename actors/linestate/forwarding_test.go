package linestate

import (
	"errors"
	"testing"

	"github.com/ucgrid/ucgrid/actors/rights"
)

func TestSetForwarding_ChecksEveryForwardAndSetsTheFlags(t *testing.T) {
	l := Line{Number: "200", Kind: rights.PrimaryLine}
	for _, tc := range []struct {
		name string
		f    Forwarding
		ok   bool
	}{
		{"all three", Forwarding{Enabled: true, Destination: "+491711234", BusyDestination: "300", NoAnswerDestination: "*99#", NoAnswerS: 20}, true},
		{"all off", Forwarding{}, true},
		{"letters", Forwarding{BusyDestination: "home"}, false},
		{"33 digits", Forwarding{NoAnswerDestination: "123456789012345678901234567890123"}, false},
		{"plus alone", Forwarding{BusyDestination: "+"}, false},
		{"plus inside", Forwarding{BusyDestination: "49+30"}, false},
		{"negative delay", Forwarding{NoAnswerDestination: "300", NoAnswerS: -1}, false},
		{"delay beyond ringing", Forwarding{NoAnswerDestination: "300", NoAnswerS: MaxNoAnswerS + 1}, false},
		{"to itself", Forwarding{BusyDestination: "200"}, false},
	} {
		got, err := SetForwarding(l, tc.f, rights.All)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if tc.ok && (got.Forwarding.Busy != (tc.f.BusyDestination != "") || got.Forwarding.NoAnswer != (tc.f.NoAnswerDestination != "")) {
			t.Errorf("%s: flags %+v do not follow the destinations", tc.name, got.Forwarding)
		}
	}
	if _, err := SetForwarding(l, Forwarding{Enabled: true, Destination: "200"}, rights.All); !errors.Is(err, ErrForwardToSelf) {
		t.Errorf("forward to itself: %v, want ErrForwardToSelf", err)
	}
}

func TestViewFor_ConditionalForwardingNumbersNeedTheNumberRight(t *testing.T) {
	l := Line{Number: "200", Kind: rights.PrimaryLine, Forwarding: Forwarding{BusyDestination: "300", Busy: true,
		NoAnswerDestination: "400", NoAnswer: true, NoAnswerS: 15}}
	public := ViewFor(l, rights.LevelSet(rights.Public))
	if want := (Forwarding{Busy: true, NoAnswer: true, NoAnswerS: 15}); public.Forwarding != want {
		t.Errorf("public sees %+v, want %+v", public.Forwarding, want)
	}
	numbers := ViewFor(l, rights.LevelSet(rights.Public).With(rights.Line1SeeForwardingNumber, 1))
	if numbers.Forwarding.BusyDestination != "300" || numbers.Forwarding.NoAnswerDestination != "400" {
		t.Errorf("with line1_see_forwarding_number: %+v", numbers.Forwarding)
	}
	if blocked := ViewFor(l, rights.LevelSet(rights.Blocked)); blocked.Forwarding != (Forwarding{}) || blocked.SeesForwarding {
		t.Errorf("blocked sees %+v", blocked.Forwarding)
	}
}
