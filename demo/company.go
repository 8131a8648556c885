package demo

import (
	"fmt"
	"strconv"
	"strings"
)

// CompanyName is the demo company, on the reserved domain Domain.
const CompanyName = "Example Corp"

// Domain is the e-mail domain of the demo company (RFC 2606, reserved for
// examples: no mail ever reaches anyone).
const Domain = "example.com"

// TimeZone is the time zone of the company's people and groups.
const TimeZone = "America/New_York"

// The people the fill signs in as, printed with their passwords.
const (
	// Administrator holds the system role system_admin (head of IT).
	Administrator = "mia.keller"
	// Manager leads the sales department with the group role manager.
	Manager = "jonas.weber"
	// PlainUser is a sales representative with no role beyond user.
	PlainUser = "liam.novak"
)

// The grants the plain user receives from people of another department:
// PersonalFriend grants them the personal level (they see the private
// phone), BlockedBy grants them blocked (they see name and e-mail only).
const (
	PersonalFriend = "zoe.walker"
	BlockedBy      = "ethan.brooks"
)

// Receptionist answers the reception call group (group role receptionist).
const Receptionist = "lena.vogel"

// The call groups: ReceptionNumber rings every receptionist at once
// (ring_all), SupportNumber the support team one after another
// (sequential); both keep office hours in TimeZone.
const (
	ReceptionNumber = "100"
	SupportNumber   = "300"
)

// person is one employee. The index gives the desk line (200+index), the
// work phone and the mobile number.
type person struct {
	id, name, title, dept string
	index                 int
	// secondary gives the person a second line (a softphone, 600+index).
	secondary bool
	// private is the person's private phone ("" none).
	private string
	// role is the person's group role in their department ("" user).
	role string
	// system is the person's system role.
	system string
}

// department is a group of the company; its members are the people whose
// dept is its id.
type department struct {
	id, name, leader, deputy string
}

// Phone numbers are from the ranges reserved for fiction (555-0100 to
// 555-0199 in North America).
func workPhone(i int) string { return fmt.Sprintf("+1 212 555 %04d", 100+i) }
func mobile(i int) string    { return fmt.Sprintf("+1 917 555 %04d", 100+i) }
func deskLine(i int) string  { return strconv.Itoa(200 + i) }
func softLine(i int) string  { return strconv.Itoa(600 + i) }

var departments = []department{
	{"management", "Management", "olivia.hart", "daniel.ross"},
	{"it", "IT", "mia.keller", "tom.fischer"},
	{"sales", "Sales", "jonas.weber", "emma.clarke"},
	{"support", "Customer Support", "grace.kim", "omar.haddad"},
	{"engineering", "Engineering", "ravi.iyer", "hannah.meyer"},
	{"finance", "Finance", "daniel.ross", "paul.green"},
	{"people", "People & Culture", "sophie.turner", ""},
	{"reception", "Reception", "marco.bianchi", ""},
}

var people = []person{
	{id: "olivia.hart", name: "Olivia Hart", title: "Chief Executive Officer", dept: "management", index: 1, secondary: true, role: "owner"},
	{id: "daniel.ross", name: "Daniel Ross", title: "Chief Financial Officer", dept: "management", index: 2, role: "manager"},
	{id: "nina.patel", name: "Nina Patel", title: "Executive Assistant", dept: "management", index: 3},
	{id: "mia.keller", name: "Mia Keller", title: "Head of IT", dept: "it", index: 4, secondary: true, role: "group_admin", system: "system_admin"},
	{id: "tom.fischer", name: "Tom Fischer", title: "Systems Engineer", dept: "it", index: 5},
	{id: "sara.lind", name: "Sara Lind", title: "IT Support Specialist", dept: "it", index: 6},
	{id: "jonas.weber", name: "Jonas Weber", title: "Head of Sales", dept: "sales", index: 7, secondary: true, role: "manager"},
	{id: "emma.clarke", name: "Emma Clarke", title: "Senior Account Executive", dept: "sales", index: 8},
	{id: "liam.novak", name: "Liam Novak", title: "Account Executive", dept: "sales", index: 9},
	{id: "chloe.martin", name: "Chloe Martin", title: "Account Executive", dept: "sales", index: 10},
	{id: "ben.carter", name: "Ben Carter", title: "Sales Development Representative", dept: "sales", index: 11},
	{id: "ava.rossi", name: "Ava Rossi", title: "Account Manager", dept: "sales", index: 12},
	{id: "noah.schmidt", name: "Noah Schmidt", title: "Inside Sales Representative", dept: "sales", index: 13},
	{id: "grace.kim", name: "Grace Kim", title: "Support Lead", dept: "support", index: 14, secondary: true, role: "owner"},
	{id: "omar.haddad", name: "Omar Haddad", title: "Senior Support Engineer", dept: "support", index: 15},
	{id: "lucy.evans", name: "Lucy Evans", title: "Support Engineer", dept: "support", index: 16},
	{id: "felix.bauer", name: "Felix Bauer", title: "Support Engineer", dept: "support", index: 17},
	{id: "isabel.cruz", name: "Isabel Cruz", title: "Support Engineer", dept: "support", index: 18},
	{id: "max.hansen", name: "Max Hansen", title: "Support Engineer", dept: "support", index: 19},
	{id: "ravi.iyer", name: "Ravi Iyer", title: "VP Engineering", dept: "engineering", index: 20, secondary: true, role: "owner"},
	{id: "hannah.meyer", name: "Hannah Meyer", title: "Engineering Manager", dept: "engineering", index: 21, role: "manager"},
	{id: "leo.dubois", name: "Leo Dubois", title: "Software Engineer", dept: "engineering", index: 22},
	{id: "zoe.walker", name: "Zoe Walker", title: "Software Engineer", dept: "engineering", index: 23, private: "+1 718 555 0123"},
	{id: "ethan.brooks", name: "Ethan Brooks", title: "Software Engineer", dept: "engineering", index: 24},
	{id: "mila.horvat", name: "Mila Horvat", title: "QA Engineer", dept: "engineering", index: 25},
	{id: "lucas.silva", name: "Lucas Silva", title: "Site Reliability Engineer", dept: "engineering", index: 26},
	{id: "julia.nowak", name: "Julia Nowak", title: "Product Designer", dept: "engineering", index: 27},
	{id: "paul.green", name: "Paul Green", title: "Accountant", dept: "finance", index: 28},
	{id: "anna.schulz", name: "Anna Schulz", title: "Payroll Specialist", dept: "finance", index: 29},
	{id: "sophie.turner", name: "Sophie Turner", title: "HR Manager", dept: "people", index: 30, role: "manager", private: "+1 718 555 0130"},
	{id: "david.lee", name: "David Lee", title: "Recruiter", dept: "people", index: 31},
	{id: "marco.bianchi", name: "Marco Bianchi", title: "Office Manager", dept: "reception", index: 32, role: "receptionist"},
	{id: "lena.vogel", name: "Lena Vogel", title: "Receptionist", dept: "reception", index: 33, role: "receptionist"},
}

func deptName(id string) string {
	for _, d := range departments {
		if d.id == id {
			return d.name
		}
	}
	return id
}

// email is the person's address: first.last@example.com.
func email(p person) string { return p.id + "@" + Domain }

// contact is the contact card of p, every field filled the way a
// directory of a real company would be.
func contact(p person, sipDomain string) map[string]any {
	c := map[string]any{
		"job_title": p.title, "company": CompanyName, "department": deptName(p.dept),
		"office":           "New York, floor " + strconv.Itoa(3+p.index%4),
		"business_address": "100 Example Avenue, New York, NY 10001, USA",
		"work_phone":       workPhone(p.index), "mobile": mobile(p.index),
		"email": email(p), "sip_address": deskLine(p.index) + "@" + sipDomain,
		"website": "https://www." + Domain + "/",
	}
	if p.private != "" {
		c["private_phone"] = p.private
		c["additional_phones"] = []string{strings.Replace(p.private, "718", "646", 1)}
	}
	switch p.dept {
	case "finance", "management":
		c["business_fax"] = "+1 212 555 0199"
	case "it":
		c["pager"] = "+1 212 555 0198"
	}
	if p.secondary {
		c["business_phone2"] = fmt.Sprintf("+1 212 555 %04d", 150+p.index)
	}
	return c
}
