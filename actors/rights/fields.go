package rights

import "math/bits"

// Field identifies one contact field of a user's card.
type Field uint8

// NumFields is the number of contact fields.
const NumFields = 17

// The contact fields, in the order of the spec table.
const (
	FieldPicture Field = iota
	FieldDisplayName
	FieldJobTitle
	FieldCompany
	FieldDepartment
	FieldOffice
	FieldBusinessAddress
	FieldWorkPhone
	FieldBusinessPhone2
	FieldMobile
	FieldPager
	FieldPrivatePhone
	FieldAdditionalPhones
	FieldBusinessFax
	FieldEmail
	FieldSIPAddress
	FieldWebsite
)

type fieldDef struct {
	name  string
	cells [NumLevels]bool // shown at blocked, public, business, team, personal
	// adOnly: filled by directory sync in the source system; here it can be
	// set like any other field and is shown by the same rule.
	adOnly bool
}

// fieldCatalogue is the contact-field table (spec/contact_fields.tsv).
var fieldCatalogue = [NumFields]fieldDef{
	FieldPicture:          {name: "picture", cells: [...]bool{false, true, true, true, true}},
	FieldDisplayName:      {name: "display_name", cells: [...]bool{true, true, true, true, true}},
	FieldJobTitle:         {name: "job_title", cells: [...]bool{false, true, true, true, true}},
	FieldCompany:          {name: "company", cells: [...]bool{false, true, true, true, true}},
	FieldDepartment:       {name: "department", cells: [...]bool{false, false, true, true, true}, adOnly: true},
	FieldOffice:           {name: "office", cells: [...]bool{false, false, true, true, true}},
	FieldBusinessAddress:  {name: "business_address", cells: [...]bool{false, false, true, true, true}},
	FieldWorkPhone:        {name: "work_phone", cells: [...]bool{false, true, true, true, true}},
	FieldBusinessPhone2:   {name: "business_phone2", cells: [...]bool{false, false, true, true, true}},
	FieldMobile:           {name: "mobile", cells: [...]bool{false, false, false, true, true}},
	FieldPager:            {name: "pager", cells: [...]bool{false, false, true, true, true}},
	FieldPrivatePhone:     {name: "private_phone", cells: [...]bool{false, false, false, false, true}},
	FieldAdditionalPhones: {name: "additional_phones", cells: [...]bool{false, false, false, false, true}, adOnly: true},
	FieldBusinessFax:      {name: "business_fax", cells: [...]bool{false, false, true, true, true}},
	FieldEmail:            {name: "email", cells: [...]bool{true, true, true, true, true}},
	FieldSIPAddress:       {name: "sip_address", cells: [...]bool{false, true, true, true, true}},
	FieldWebsite:          {name: "website", cells: [...]bool{false, false, true, true, true}},
}

// Name returns the field's name as in the spec table and the JSON API.
func (f Field) Name() string { return fieldCatalogue[f].name }

func (f Field) String() string { return f.Name() }

// ADOnly reports whether the source system fills the field only from
// directory sync. ucgrid lets it be set like any other field.
func (f Field) ADOnly() bool { return fieldCatalogue[f].adOnly }

// ParseField returns the contact field with the given name.
func ParseField(name string) (Field, error) {
	for i, d := range fieldCatalogue {
		if d.name == name {
			return Field(i), nil
		}
	}
	return 0, &UnknownNameError{Kind: "field", Name: name}
}

// FieldSet is a set of contact fields.
type FieldSet uint32

// Has reports whether f is in the set.
func (fs FieldSet) Has(f Field) bool { return fs&(1<<f) != 0 }

// Len is the number of fields in the set.
func (fs FieldSet) Len() int { return bits.OnesCount32(uint32(fs)) }

// Fields lists the set's fields in catalogue order.
func (fs FieldSet) Fields() []Field {
	out := make([]Field, 0, fs.Len())
	for f := Field(0); f < NumFields; f++ {
		if fs.Has(f) {
			out = append(out, f)
		}
	}
	return out
}

// Names lists the set's field names in catalogue order.
func (fs FieldSet) Names() []string {
	out := make([]string, 0, fs.Len())
	for _, f := range fs.Fields() {
		out = append(out, f.Name())
	}
	return out
}

var levelFields = func() (out [NumLevels]FieldSet) {
	for i, d := range fieldCatalogue {
		for l, shown := range d.cells {
			if shown {
				out[l] |= 1 << i
			}
		}
	}
	return out
}()

// LevelFields returns the contact fields a standard level shows.
func LevelFields(l Level) FieldSet {
	if l > Personal {
		return 0
	}
	return levelFields[l]
}

// VisibleFields returns the contact fields a viewer holding s sees: those of
// the highest standard level that s covers (see Set.Covered). A special set
// therefore shows the fields of the largest level it contains, and a viewer
// looking at themself sees every field.
func VisibleFields(s Set) FieldSet { return levelFields[s.Covered()] }
