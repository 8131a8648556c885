package ldapsync

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Presets name the defaults a mapping file starts from.
const (
	// PresetAD fits Active Directory: people are user objects, the id is
	// sAMAccountName, disabled is bit 2 of userAccountControl, groups are
	// group objects with member, the primary group is primaryGroupID
	// matched against the RID of a group's objectSid, lines come from
	// ipPhone.
	PresetAD = "ad"
	// PresetOpenLDAP fits OpenLDAP with inetOrgPerson: the id is uid,
	// groups are groupOfNames (member), lines come from telephoneNumber;
	// no disabled attribute and no primary group unless configured.
	PresetOpenLDAP = "openldap"
)

// Config is a mapping file: where the directory server is, how to bind,
// and which attributes become which fields. Load reads one; every field
// left out takes the default of Preset (documented in docs/ldap.md).
type Config struct {
	// Preset is "ad" or "openldap" (required): the defaults of every
	// attribute below.
	Preset string `yaml:"preset"`
	// URL is the server, ldap://host[:389] or ldaps://host[:636]
	// (required).
	URL string `yaml:"url"`
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool `yaml:"start_tls"`
	// CAFile is a PEM file of the CAs that sign the server's certificate
	// (ldaps:// and StartTLS). Empty: the system's roots.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name checked in the server's certificate. Empty:
	// the host of URL.
	ServerName string `yaml:"server_name"`
	// BindDN is the (read-only) account the sync binds as. Empty: an
	// anonymous bind.
	BindDN string `yaml:"bind_dn"`
	// BindPasswordFile is a file holding the bind password (one line; a
	// trailing newline is dropped). BindPasswordEnv names an environment
	// variable holding it instead. Exactly one is needed with BindDN. The
	// password itself is never written in the mapping file, nor logged.
	BindPasswordFile string `yaml:"bind_password_file"`
	BindPasswordEnv  string `yaml:"bind_password_env"`
	// BaseDN is the subtree synced (required).
	BaseDN string `yaml:"base_dn"`
	// Watch is how often the Raft leader syncs (e.g. "15m"). 0 or left
	// out: only when asked (ucgrid ldap sync).
	Watch Duration `yaml:"watch"`
	// Timeout bounds one sync's connection and each search. Default 60s.
	Timeout Duration `yaml:"timeout"`
	// PageSize is the search page size. Default 500 (Active Directory
	// answers at most 1000 entries per page).
	PageSize uint32 `yaml:"page_size"`
	// AdoptExisting lets the sync take over users, groups and lines that
	// exist without a sync mark (made by hand before the sync was set
	// up). Default false: such an entry is reported as a problem.
	AdoptExisting bool `yaml:"adopt_existing"`

	Users  UserMapping  `yaml:"users"`
	Groups GroupMapping `yaml:"groups"`
	Lines  LineMapping  `yaml:"lines"`

	// password is read by Load from the file or the variable. A pointer,
	// so that printing a Config (%+v) shows an address, not the password.
	password *string
}

// UserMapping maps person entries to users. "none" switches an optional
// attribute of the preset off (Email, Disabled, PrimaryGroup, and
// GroupMapping.PrimaryKey).
type UserMapping struct {
	// BaseDN is where people are searched. Default: Config.BaseDN.
	BaseDN string `yaml:"base_dn"`
	// Filter selects the people. AD: (&(objectCategory=person)(objectClass=user));
	// OpenLDAP: (objectClass=inetOrgPerson).
	Filter string `yaml:"filter"`
	// ID is the attribute of the user id, lower-cased. AD: sAMAccountName;
	// OpenLDAP: uid.
	ID string `yaml:"id"`
	// DisplayName: AD and OpenLDAP displayName, falling back to cn.
	DisplayName string `yaml:"display_name"`
	// Email: mail.
	Email string `yaml:"email"`
	// Disabled is the attribute that marks a disabled account. AD:
	// userAccountControl (disabled when bit 2, ACCOUNTDISABLE, is set);
	// OpenLDAP: none. With DisabledValues, the account is disabled when
	// the attribute holds one of them (case-insensitive), e.g.
	// nsAccountLock: ["true"].
	Disabled       string   `yaml:"disabled"`
	DisabledValues []string `yaml:"disabled_values"`
	// PrimaryGroup is the attribute matched against Groups.PrimaryKey to
	// set Member.primary. AD: primaryGroupID; OpenLDAP: none.
	PrimaryGroup string `yaml:"primary_group"`
	// Site is the attribute holding the user's home site (a --site name,
	// e.g. from physicalDeliveryOfficeName or a custom attribute; empty in
	// the entry = no home site). Default none: the sync leaves home sites
	// as they are (docs/multisite.md).
	Site string `yaml:"site"`
	// Contact maps contact fields (job_title, company, department,
	// office, business_address, work_phone, business_phone2, mobile,
	// pager, private_phone, business_fax, website) to attributes; the
	// preset's defaults are in docs/ldap.md. A field mapped to "" is not
	// synced.
	Contact map[string]string `yaml:"contact"`
}

// GroupMapping maps group entries to groups.
type GroupMapping struct {
	// Disabled turns group sync off.
	Disabled bool `yaml:"disabled"`
	// BaseDN is where groups are searched. Default: Config.BaseDN.
	BaseDN string `yaml:"base_dn"`
	// Filter selects the groups. AD: (objectClass=group); OpenLDAP:
	// (objectClass=groupOfNames).
	Filter string `yaml:"filter"`
	// ID is the attribute of the group id, lower-cased. AD: sAMAccountName;
	// OpenLDAP: cn.
	ID string `yaml:"id"`
	// Name is the group's name: cn.
	Name string `yaml:"name"`
	// Member is the group attribute listing member DNs: member.
	Member string `yaml:"member"`
	// FromMemberOf reads membership from the people's memberOf attribute
	// instead of the groups' Member attribute.
	FromMemberOf bool `yaml:"from_member_of"`
	// Nested makes the members of a member group members too. A cycle is
	// reported with the DN and not followed.
	Nested bool `yaml:"nested"`
	// PrimaryKey is the group attribute Users.PrimaryGroup is matched
	// against. AD: objectSid (its RID); OpenLDAP: none.
	PrimaryKey string `yaml:"primary_key"`
	// ActivateNew creates new groups active (their grants and services
	// count). Default false: an administrator activates them.
	ActivateNew bool `yaml:"activate_new"`
	// Site is the group attribute holding the group's home site, as
	// UserMapping.Site. Default none.
	Site string `yaml:"site"`
}

// LineMapping maps a phone attribute of people to their lines.
type LineMapping struct {
	// Attribute is the phone attribute. AD: ipPhone; OpenLDAP:
	// telephoneNumber. Empty (Disabled) syncs no lines.
	Attribute string `yaml:"attribute"`
	// Disabled turns line sync off.
	Disabled bool `yaml:"disabled"`
	// Digits keeps the last Digits digits of the number as the line
	// number (the extension of "+49 89 1234-567" with 3 is 567). 0 keeps
	// the whole number (spaces, dashes, dots, slashes and brackets
	// removed).
	Digits int `yaml:"digits"`
}

// Duration is a time.Duration written as "15m" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 15m, 1h)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// contactFields are the contact fields a mapping may name.
var contactFields = []string{"job_title", "company", "department", "office", "business_address",
	"work_phone", "business_phone2", "mobile", "pager", "private_phone", "business_fax", "website"}

// phoneFields are the contact fields checked as phone numbers.
var phoneFields = map[string]bool{"work_phone": true, "business_phone2": true, "mobile": true,
	"pager": true, "private_phone": true, "business_fax": true}

// Load reads and checks a mapping file and the bind password it names.
// The error is one line naming the file and the field.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ldapsync: read mapping file: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("ldapsync: mapping file %s: %w", path, err)
	}
	if err := c.readPassword(os.ReadFile, os.LookupEnv); err != nil {
		return nil, fmt.Errorf("ldapsync: mapping file %s: %w", path, err)
	}
	return c, nil
}

// Parse reads a mapping file's text, fills the preset's defaults and
// validates it. It does not read the bind password (Load does).
func Parse(data []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, errors.New(yamlError(err))
	}
	if err := c.fill(); err != nil {
		return nil, err
	}
	return c, c.validate()
}

// yamlError makes a YAML decoding error one line: "line 4: unknown key
// wacth".
func yamlError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if field, ok := strings.CutPrefix(l[strings.Index(l, ":")+1:], " field "); ok && strings.Contains(field, " not found in type ") {
			l = l[:strings.Index(l, ":")] + ": unknown key " + field[:strings.Index(field, " not found")]
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

// SetPassword sets the bind password directly (tests, embedding).
func (c *Config) SetPassword(pw string) { c.password = &pw }

// bindPassword is the password read by Load ("" when none).
func (c *Config) bindPassword() string {
	if c.password == nil {
		return ""
	}
	return *c.password
}

func (c *Config) readPassword(readFile func(string) ([]byte, error), lookupEnv func(string) (string, bool)) error {
	switch {
	case c.BindDN == "":
		return nil
	case c.BindPasswordFile != "" && c.BindPasswordEnv != "":
		return errors.New("bind_password_file and bind_password_env: give one, not both")
	case c.BindPasswordFile != "":
		b, err := readFile(c.BindPasswordFile)
		if err != nil {
			return fmt.Errorf("bind_password_file: %w", err)
		}
		c.SetPassword(strings.TrimRight(string(b), "\r\n"))
	case c.BindPasswordEnv != "":
		v, ok := lookupEnv(c.BindPasswordEnv)
		if !ok {
			return fmt.Errorf("bind_password_env: the environment variable %s is not set", c.BindPasswordEnv)
		}
		c.SetPassword(v)
	default:
		return errors.New("bind_dn is set but neither bind_password_file nor bind_password_env")
	}
	if c.bindPassword() == "" {
		return errors.New("the bind password is empty (an empty password is an unauthenticated bind)")
	}
	return nil
}

func setIfEmpty(field *string, v string) {
	if *field == "" {
		*field = v
	}
}

// fill sets every attribute left out to the preset's default.
func (c *Config) fill() error {
	var p Config
	switch c.Preset {
	case PresetAD:
		p = presetAD()
	case PresetOpenLDAP:
		p = presetOpenLDAP()
	default:
		return fmt.Errorf("preset: %q is not one of ad, openldap", c.Preset)
	}
	u, g := &c.Users, &c.Groups
	for _, f := range []struct {
		field *string
		v     string
	}{
		{&u.BaseDN, c.BaseDN}, {&u.Filter, p.Users.Filter}, {&u.ID, p.Users.ID}, {&u.DisplayName, p.Users.DisplayName},
		{&u.Email, p.Users.Email}, {&u.Disabled, p.Users.Disabled}, {&u.PrimaryGroup, p.Users.PrimaryGroup},
		{&g.BaseDN, c.BaseDN}, {&g.Filter, p.Groups.Filter}, {&g.ID, p.Groups.ID}, {&g.Name, p.Groups.Name},
		{&g.Member, p.Groups.Member}, {&g.PrimaryKey, p.Groups.PrimaryKey}, {&c.Lines.Attribute, p.Lines.Attribute},
	} {
		setIfEmpty(f.field, f.v)
	}
	// "none" switches an optional attribute of the preset off.
	for _, f := range []*string{&u.Email, &u.Disabled, &u.PrimaryGroup, &g.PrimaryKey} {
		if *f == "none" {
			*f = ""
		}
	}
	if u.Contact == nil {
		u.Contact = map[string]string{}
	}
	for k, v := range p.Users.Contact {
		if _, set := u.Contact[k]; !set {
			u.Contact[k] = v
		}
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(60 * time.Second)
	}
	if c.PageSize == 0 {
		c.PageSize = 500
	}
	return nil
}

func presetAD() Config {
	contact := commonContact()
	contact["department"], contact["company"] = "department", "company"
	contact["business_address"], contact["website"] = "streetAddress", "wWWHomePage"
	return Config{
		Users: UserMapping{Filter: "(&(objectCategory=person)(objectClass=user))", ID: "sAMAccountName",
			DisplayName: "displayName", Email: "mail", Disabled: "userAccountControl", PrimaryGroup: "primaryGroupID",
			Contact: contact},
		Groups: GroupMapping{Filter: "(objectClass=group)", ID: "sAMAccountName", Name: "cn", Member: "member", PrimaryKey: "objectSid"},
		Lines:  LineMapping{Attribute: "ipPhone"},
	}
}

func presetOpenLDAP() Config {
	return Config{
		Users:  UserMapping{Filter: "(objectClass=inetOrgPerson)", ID: "uid", DisplayName: "displayName", Email: "mail", Contact: commonContact()},
		Groups: GroupMapping{Filter: "(objectClass=groupOfNames)", ID: "cn", Name: "cn", Member: "member"},
		Lines:  LineMapping{Attribute: "telephoneNumber"},
	}
}

// commonContact are the attributes both AD and inetOrgPerson have.
func commonContact() map[string]string {
	return map[string]string{
		"job_title": "title", "department": "departmentNumber", "office": "physicalDeliveryOfficeName",
		"business_address": "postalAddress", "work_phone": "telephoneNumber", "mobile": "mobile", "pager": "pager",
		"private_phone": "homePhone", "business_fax": "facsimileTelephoneNumber", "company": "o",
	}
}

// validate reports the first field that cannot work, naming it.
func (c *Config) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return errors.New("url: is empty (ldap://host or ldaps://host)")
	case err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "":
		return fmt.Errorf("url: %q is not an ldap:// or ldaps:// URL with a host", c.URL)
	case u.User != nil:
		return errors.New("url: holds credentials; give them as bind_dn and bind_password_file")
	case c.StartTLS && u.Scheme == "ldaps":
		return errors.New("start_tls: only for ldap:// URLs (ldaps:// is TLS from the start)")
	case c.BaseDN == "":
		return errors.New("base_dn: is empty")
	case c.Watch < 0:
		return errors.New("watch: is negative")
	case c.Watch > 0 && time.Duration(c.Watch) < time.Second:
		return fmt.Errorf("watch: %s is shorter than a second (each sync reads the whole subtree; minutes are usual)", time.Duration(c.Watch))
	case c.Timeout < 0:
		return errors.New("timeout: is negative")
	case c.PageSize > 1000:
		return fmt.Errorf("page_size: %d is above 1000, the most Active Directory answers per page", c.PageSize)
	case c.Users.ID == "":
		return errors.New("users.id: is empty")
	case c.Lines.Digits < 0 || c.Lines.Digits > 32:
		return fmt.Errorf("lines.digits: %d is not 0-32", c.Lines.Digits)
	}
	for k := range c.Users.Contact {
		if !slices.Contains(contactFields, k) {
			return fmt.Errorf("users.contact.%s: not a contact field (one of %s)", k, strings.Join(contactFields, ", "))
		}
	}
	return nil
}

// Source names the server and subtree (no secrets): the status's source.
func (c *Config) Source() string { return c.URL + " " + c.BaseDN }
