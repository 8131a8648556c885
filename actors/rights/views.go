package rights

import (
	"fmt"
	"time"
)

// LineKind says which of a user's lines a line is: rights.tsv has one group
// of rights for the primary line (line1_*) and one for the secondary
// (line2_*).
type LineKind uint8

// The line kinds.
const (
	PrimaryLine LineKind = iota
	SecondaryLine
)

// LineRights is what a viewer may see and do of one of the target's lines.
type LineRights struct {
	SeeState            bool // free/busy (see_line_state)
	SeeOutgoing         bool // whom the target calls
	SeeIncoming         bool // who calls the target
	SeeForwarding       bool // that forwarding is on
	SeeForwardingNumber bool // where forwarding goes
	SetForwarding       bool
	Pickup              bool
}

var lineRightsByKind = [2][6]Right{
	PrimaryLine:   {Line1SeeOutgoing, Line1SeeIncoming, Line1SeeForwarding, Line1SeeForwardingNumber, Line1SetForwarding, Line1Pickup},
	SecondaryLine: {Line2SeeOutgoing, Line2SeeIncoming, Line2SeeForwarding, Line2SeeForwardingNumber, Line2SetForwarding, Line2Pickup},
}

// LineView returns the line rights s gives over a line of the given kind.
// Seeing the forwarding number implies seeing that forwarding is on.
func LineView(s Set, kind LineKind) LineRights {
	rs := lineRightsByKind[kind]
	v := LineRights{
		SeeState:            s.Has(SeeLineState),
		SeeOutgoing:         s.Has(rs[0]),
		SeeIncoming:         s.Has(rs[1]),
		SeeForwarding:       s.Has(rs[2]),
		SeeForwardingNumber: s.Has(rs[3]),
		SetForwarding:       s.Has(rs[4]),
		Pickup:              s.Has(rs[5]),
	}
	v.SeeForwarding = v.SeeForwarding || v.SeeForwardingNumber
	return v
}

// Appointment is a calendar entry of the target.
type Appointment struct {
	Start, End time.Time
	Private    bool
	Subject    string
	Place      string
}

// PrivateSubject is what replaces the subject of a private appointment shown
// only as a busy block.
const PrivateSubject = "Private"

// ViewAppointment returns what a viewer holding s sees of a, and false when
// they must not see it at all. A public appointment needs
// see_public_appointments; a private one is hidden at grade none, shown as a
// busy block with neither subject nor place at busy, and in full at details.
func ViewAppointment(s Set, a Appointment) (Appointment, bool) {
	if !a.Private {
		return a, s.Has(SeePublicAppointments)
	}
	switch s.Grade(SeePrivateAppointments) {
	case AppointmentsDetails:
		return a, true
	case AppointmentsBusy:
		return Appointment{Start: a.Start, End: a.End, Private: true, Subject: PrivateSubject}, true
	default:
		return Appointment{}, false
	}
}

// AVDisplay is how a viewer sees the target's audio/video line.
type AVDisplay uint8

// The audio/video displays.
const (
	AVHidden      AVDisplay = iota // no AV state at all
	AVAvailable                    // the AV line is free
	AVUnavailable                  // busy, shown gray: the viewer does not learn that it is busy
	AVBusy                         // busy, shown red
)

var avDisplayNames = [...]string{"hidden", "available", "unavailable", "busy"}

func (d AVDisplay) String() string { return avDisplayNames[d] }

// ParseAVDisplay is String's inverse.
func ParseAVDisplay(name string) (AVDisplay, error) {
	for i, n := range avDisplayNames {
		if n == name {
			return AVDisplay(i), nil
		}
	}
	return AVHidden, fmt.Errorf("rights: unknown AV display %q", name)
}

// ViewAVLine returns how a viewer holding s sees the target's AV line.
func ViewAVLine(s Set, busy bool) AVDisplay {
	switch g := s.Grade(AVSeeLineState); {
	case g == AVNone:
		return AVHidden
	case !busy:
		return AVAvailable
	case g == AVGray:
		return AVUnavailable
	default:
		return AVBusy
	}
}
