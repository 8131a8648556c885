package rights

// Level is one of the five standard authorization levels, ordered from the
// least to the most trusting. Special is not a level of the table: it names a
// set of rights that equals none of them.
type Level uint8

// The standard levels, in order, and Special.
const (
	Blocked Level = iota
	Public
	Business
	Team
	Personal
	Special
)

// NumLevels is the number of standard levels (Special excluded).
const NumLevels = 5

var levelNames = [...]string{"blocked", "public", "business", "team", "personal", "special"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "level(?)"
}

// ParseLevel returns the standard level with the given name. "special" is not
// accepted: a special set is given as individual rights, not by name.
func ParseLevel(name string) (Level, error) {
	for l := Blocked; l <= Personal; l++ {
		if levelNames[l] == name {
			return l, nil
		}
	}
	return 0, &UnknownNameError{Kind: "level", Name: name}
}

// Right identifies one right of the catalogue.
type Right uint8

// NumRights is the number of rights in the catalogue.
const NumRights = 23

// The rights, in the order of the spec table.
const (
	ViewPicture Right = iota
	SeePresence
	SetPresence
	SeeNote
	SetNote
	SeePrivateAppointments
	SeePublicAppointments
	SeePhoneNumbers
	SeeLineState
	Line1SeeOutgoing
	Line1SeeIncoming
	Line1SeeForwarding
	Line1SeeForwardingNumber
	Line1SetForwarding
	Line1Pickup
	Line2SeeOutgoing
	Line2SeeIncoming
	Line2SeeForwarding
	Line2SeeForwardingNumber
	Line2SetForwarding
	Line2Pickup
	AVSeeLineState
	AVSeeParticipants
)

// Grades of see_private_appointments, in order.
const (
	AppointmentsNone    Grade = 0 // private appointments are not shown
	AppointmentsBusy    Grade = 1 // shown only as a "Private" busy block
	AppointmentsDetails Grade = 2 // subject and place are shown
)

// Grades of av_see_line_state, in order.
const (
	AVNone Grade = 0 // no audio/video line state
	AVGray Grade = 1 // busy shows as unavailable: busy itself is not revealed
	AVRed  Grade = 2 // busy shows as busy
)

// Grade is the value of a right: 0 or 1 for a boolean right, the index into
// the right's ordered grade names for a graded one.
type Grade uint8

// rightDef is one row of the rights table. Cells hold, per standard level,
// "0" or "1" for a boolean right and the grade name for a graded one.
type rightDef struct {
	name   string
	grades []string // ordered grade names; nil for a boolean right
	cells  [NumLevels]string
	trust  bool // the documents advise granting it only in positions of special trust
}

var (
	appointmentGrades = []string{"none", "busy", "details"}
	avGrades          = []string{"none", "gray", "red"}
)

// catalogue is the rights table (spec/rights.tsv) as Go data.
var catalogue = [NumRights]rightDef{
	ViewPicture:              {name: "view_picture", cells: [...]string{"0", "1", "1", "1", "1"}},
	SeePresence:              {name: "see_presence", cells: [...]string{"0", "1", "1", "1", "1"}},
	SetPresence:              {name: "set_presence", cells: [...]string{"0", "0", "0", "0", "0"}, trust: true},
	SeeNote:                  {name: "see_note", cells: [...]string{"0", "0", "0", "1", "1"}},
	SetNote:                  {name: "set_note", cells: [...]string{"0", "0", "0", "1", "1"}},
	SeePrivateAppointments:   {name: "see_private_appointments", grades: appointmentGrades, cells: [...]string{"none", "none", "busy", "busy", "details"}, trust: true},
	SeePublicAppointments:    {name: "see_public_appointments", cells: [...]string{"0", "0", "1", "1", "1"}},
	SeePhoneNumbers:          {name: "see_phone_numbers", cells: [...]string{"0", "1", "1", "1", "1"}},
	SeeLineState:             {name: "see_line_state", cells: [...]string{"0", "0", "1", "1", "1"}},
	Line1SeeOutgoing:         {name: "line1_see_outgoing", cells: [...]string{"0", "0", "0", "0", "0"}, trust: true},
	Line1SeeIncoming:         {name: "line1_see_incoming", cells: [...]string{"0", "0", "1", "1", "1"}},
	Line1SeeForwarding:       {name: "line1_see_forwarding", cells: [...]string{"0", "1", "1", "1", "1"}},
	Line1SeeForwardingNumber: {name: "line1_see_forwarding_number", cells: [...]string{"0", "0", "0", "0", "0"}, trust: true},
	Line1SetForwarding:       {name: "line1_set_forwarding", cells: [...]string{"0", "0", "0", "0", "1"}},
	Line1Pickup:              {name: "line1_pickup", cells: [...]string{"0", "0", "0", "1", "1"}},
	Line2SeeOutgoing:         {name: "line2_see_outgoing", cells: [...]string{"0", "0", "0", "0", "0"}, trust: true},
	Line2SeeIncoming:         {name: "line2_see_incoming", cells: [...]string{"0", "0", "0", "1", "1"}},
	Line2SeeForwarding:       {name: "line2_see_forwarding", cells: [...]string{"0", "1", "1", "1", "1"}},
	Line2SeeForwardingNumber: {name: "line2_see_forwarding_number", cells: [...]string{"0", "0", "0", "0", "0"}, trust: true},
	Line2SetForwarding:       {name: "line2_set_forwarding", cells: [...]string{"0", "0", "0", "0", "1"}},
	Line2Pickup:              {name: "line2_pickup", cells: [...]string{"0", "0", "0", "0", "1"}},
	AVSeeLineState:           {name: "av_see_line_state", grades: avGrades, cells: [...]string{"none", "gray", "gray", "red", "red"}},
	AVSeeParticipants:        {name: "av_see_participants", cells: [...]string{"0", "0", "0", "1", "1"}},
}

// Name returns the right's name as in the spec table and the JSON API.
func (r Right) Name() string { return catalogue[r].name }

func (r Right) String() string { return r.Name() }

// Graded reports whether the right has ordered grades rather than yes/no.
func (r Right) Graded() bool { return catalogue[r].grades != nil }

// Grades returns the ordered grade names of a graded right, nil otherwise.
func (r Right) Grades() []string { return append([]string(nil), catalogue[r].grades...) }

// Trust reports whether the right should be given only in positions of
// special trust.
func (r Right) Trust() bool { return catalogue[r].trust }

// GradeName returns the name of grade g of a graded right, or "true"/"false"
// for a boolean right.
func (r Right) GradeName(g Grade) string {
	if gs := catalogue[r].grades; gs != nil {
		return gs[g]
	}
	if g > 0 {
		return "true"
	}
	return "false"
}

// ParseRight returns the right with the given name.
func ParseRight(name string) (Right, error) {
	if r, ok := rightByName[name]; ok {
		return r, nil
	}
	return 0, &UnknownNameError{Kind: "right", Name: name}
}

// ParseGrade returns the grade of a graded right with the given name.
func (r Right) ParseGrade(name string) (Grade, error) {
	for i, g := range catalogue[r].grades {
		if g == name {
			return Grade(i), nil
		}
	}
	return 0, &BadValueError{Right: r.Name(), Value: name}
}

// AllRights returns every right in catalogue order.
func AllRights() []Right {
	rs := make([]Right, NumRights)
	for i := range rs {
		rs[i] = Right(i)
	}
	return rs
}

var rightByName = func() map[string]Right {
	m := make(map[string]Right, NumRights)
	for i, d := range catalogue {
		m[d.name] = Right(i)
	}
	return m
}()
