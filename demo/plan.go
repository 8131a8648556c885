package demo

import (
	"net/url"
	"strconv"
	"time"
)

// step is one API request of the fill, made as user as.
type step struct {
	as, method, path string
	body             any
}

// secrets are the generated passwords the plan writes: sign-in passwords
// by user id, SIP passwords by line number.
type secrets struct {
	passwords    map[string]string
	sipPasswords map[string]string
}

// plan lists the requests that build the company, in an order the API
// accepts: the global layer, people, their lines, the groups (whose
// members must exist), forwarding, admin presets, then the grants people
// make themselves. admin is the system owner the fill acts as; now dates
// the holidays (this year's and next year's).
func plan(admin, sipDomain string, now time.Time, s secrets) []step {
	var steps []step
	add := func(as, method, path string, body any) {
		steps = append(steps, step{as: as, method: method, path: path, body: body})
	}
	add(admin, "PUT", "/v1/global", map[string]any{
		"level":                  "blocked",
		"services":               []string{"configure_profile", "chat", "softphone_audio", "apps"},
		"journal_retention_days": 365, "chat_retention_days": 365,
	})
	for _, p := range people {
		add(admin, "PUT", "/v1/users/"+url.PathEscape(p.id), userBody(p, sipDomain, s.passwords[p.id]))
	}
	for _, p := range people {
		for _, l := range linesOf(p) {
			add(admin, "PUT", "/v1/lines/"+l.number, lineBody(p, l, s.sipPasswords[l.number]))
		}
	}
	for _, d := range departments {
		add(admin, "PUT", "/v1/groups/"+d.id, groupBody(d, now))
	}
	add(admin, "PUT", "/v1/lines/"+deskLine(1)+"/forwarding", map[string]any{
		"no_answer": deskLine(3), "no_answer_s": 15, // the CEO's unanswered calls go to her assistant
	})
	steps = append(steps, presets(admin)...)
	steps = append(steps, userGrants()...)
	return steps
}

// userBody is the PUT /v1/users body of p; pw "" leaves the person without
// a password (they cannot sign in until an administrator gives one).
func userBody(p person, sipDomain, pw string) map[string]any {
	u := map[string]any{
		"display_name": p.name, "system_role": p.system, "contact": contact(p, sipDomain),
		"language": "en", "timezone": TimeZone,
	}
	if pw != "" {
		u["password"] = pw
	}
	if p.id == Administrator {
		u["services"] = []string{"screen_share_initiate", "screen_share_accept"}
	}
	return u
}

type line struct{ number, kind, label string }

// linesOf are p's lines: a desk phone, and for some a softphone.
func linesOf(p person) []line {
	ls := []line{{deskLine(p.index), "primary", "Desk phone"}}
	if p.secondary {
		ls = append(ls, line{softLine(p.index), "secondary", "Softphone"})
	}
	return ls
}

func lineBody(p person, l line, sipPassword string) map[string]any {
	b := map[string]any{"owner": p.id, "kind": l.kind, "label": l.label}
	if sipPassword != "" {
		b["sip_password"] = sipPassword
	}
	return b
}

// DeputyFor is how long IT's deputy stands in: the demo's example of a
// deputy that ends by itself (deputy_until).
const DeputyFor = 14 * 24 * time.Hour

// groupBody is the PUT /v1/groups body of d: its people as members with
// their group roles, leader and deputy, grants, services, and for the
// reception and support departments a call group with office hours.
func groupBody(d department, now time.Time) map[string]any {
	var members []map[string]any
	for _, p := range people {
		if p.dept != d.id {
			continue
		}
		role := p.role
		if role == "" {
			role = "user"
		}
		members = append(members, map[string]any{"user": p.id, "role": role})
	}
	g := map[string]any{
		"name": d.name, "active": true, "members": members, "leader": d.leader, "deputy": d.deputy,
		"member_level": "business", "leader_level": "team",
		"language": "en", "timezone": TimeZone, "journal_leader_visible": true,
	}
	switch d.id {
	case "management":
		g["member_level"], g["leader_level"] = "team", "personal"
	case "it":
		// A stand-in for the holidays: the deputy's role ends by itself.
		g["deputy_until"] = now.Add(DeputyFor).UTC().Truncate(time.Hour).Format(time.RFC3339)
	case "sales":
		g["services"] = []string{"phone_books", "sms"}
	case "engineering":
		g["services"] = []string{"softphone_video", "screen_share_accept", "screen_share_initiate"}
	case "support":
		supportGroup(g, now)
	case "reception":
		receptionGroup(g, now)
	}
	return g
}

// supportGroup makes the support department a sequential call group: one
// engineer after another, 15 s each, then the reception; outside office
// hours callers go to the reception straight away.
func supportGroup(g map[string]any, now time.Time) {
	g["member_level"] = "team" // they pick up each other's calls
	delete(g, "leader_level")  // individual rights instead of a level
	g["leader_rights"] = map[string]any{
		"view_picture": true, "see_presence": true, "see_phone_numbers": true, "see_note": true,
		"see_line_state": true, "line1_see_incoming": true, "line1_see_forwarding": true,
		"line1_pickup": true, "av_see_line_state": "red",
	}
	g["services"] = []string{"screen_share_accept", "record_calls"}
	g["journal_group_visible"] = true
	g["call_group"] = map[string]any{
		"mode": "sip", "number": SupportNumber, "strategy": "sequential",
		"ring_timeout_s": 90, "member_timeout_s": 15,
		"no_answer_target": ReceptionNumber, "closed_target": ReceptionNumber,
	}
	g["office_hours"] = map[string]any{
		"weekly":   weekdays([][]string{{"09:00", "17:00"}}),
		"breaks":   weekdays([][]string{{"12:30", "13:00"}}),
		"holidays": holidays(now),
	}
}

// receptionGroup makes the reception a ring_all call group with busy-lamp
// keys for the heads of department.
func receptionGroup(g map[string]any, now time.Time) {
	g["call_group"] = map[string]any{
		"mode": "sip", "number": ReceptionNumber, "strategy": "ring_all", "ring_timeout_s": 60,
		"no_answer_target": deskLine(3),
	}
	g["office_hours"] = map[string]any{
		"weekly":   weekdays([][]string{{"08:00", "18:00"}}),
		"holidays": holidays(now),
	}
	var keys []map[string]any
	for _, d := range departments {
		if d.id == "reception" {
			continue
		}
		keys = append(keys, map[string]any{"label": d.name + " (" + nameOf(d.leader) + ")", "number": deskLine(indexOf(d.leader))})
	}
	keys = append(keys, map[string]any{"label": "Customer Support hotline", "number": SupportNumber})
	g["keys"] = keys
	g["monitor_groups"] = []string{"support"}
	g["display_members_on_monitor"] = true
}

func weekdays(hours [][]string) map[string][][]string {
	out := map[string][][]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri"} {
		out[d] = hours
	}
	return out
}

// holidays are the public holidays of now's year and the next in the
// United States the call groups close on (a representative few).
func holidays(now time.Time) []map[string]string {
	var out []map[string]string
	for _, y := range []int{now.Year(), now.Year() + 1} {
		ys := strconv.Itoa(y)
		out = append(out,
			map[string]string{"date": ys + "-01-01", "name": "New Year's Day"},
			map[string]string{"date": ys + "-07-04", "name": "Independence Day"},
			map[string]string{"date": ys + "-12-25", "name": "Christmas Day"})
	}
	return out
}

// presets are the administrator's grants: everybody lets the reception
// see them at the business level (presence, line state, numbers), and the
// CEO's assistant holds individual rights over the CEO's calendar and
// line, which only an administrator can change (the pair is locked).
func presets(admin string) []step {
	var steps []step
	for _, p := range people {
		for _, viewer := range []string{Receptionist, "marco.bianchi"} {
			if p.id == viewer || p.dept == "reception" {
				continue
			}
			steps = append(steps, step{admin, "PUT", "/v1/admin/grants/" + p.id + "/" + viewer, map[string]any{"level": "business"}})
		}
	}
	steps = append(steps, step{admin, "PUT", "/v1/admin/grants/olivia.hart/nina.patel", map[string]any{"rights": map[string]any{
		"view_picture": true, "see_presence": true, "set_presence": true, "see_note": true, "set_note": true,
		"see_private_appointments": "details", "see_public_appointments": true, "see_phone_numbers": true,
		"see_line_state": true, "line1_see_incoming": true, "line1_see_forwarding": true,
		"line1_set_forwarding": true, "line1_pickup": true, "av_see_line_state": "red",
	}}})
	return steps
}

// userGrants are grants people make on their own behalf (the API takes
// them only from the target): a friend in engineering shows the plain
// user everything (personal), a colleague there blocks him, the CFO lets
// his deputy in finance see his team-level details, the head of sales
// his deputy likewise.
func userGrants() []step {
	grant := func(target, viewer, level string) step {
		return step{target, "PUT", "/v1/users/" + target + "/grants/" + viewer, map[string]any{"level": level}}
	}
	return []step{
		grant(PersonalFriend, PlainUser, "personal"),
		grant(BlockedBy, PlainUser, "blocked"),
		grant("daniel.ross", "paul.green", "team"),
		grant(Manager, "emma.clarke", "personal"),
	}
}

func nameOf(id string) string {
	for _, p := range people {
		if p.id == id {
			return p.name
		}
	}
	return id
}

func indexOf(id string) int {
	for _, p := range people {
		if p.id == id {
			return p.index
		}
	}
	return 0
}
