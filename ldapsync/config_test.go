package ldapsync

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const minimal = "preset: openldap\nurl: ldap://ldap.example.com\nbase_dn: dc=example,dc=com\n"

func TestParse_PresetDefaults(t *testing.T) {
	c, err := Parse([]byte("preset: ad\nurl: ldaps://dc1\nbase_dn: DC=ex,DC=com\nusers:\n  contact:\n    pager: \"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Users.ID != "sAMAccountName" || c.Users.Disabled != "userAccountControl" || c.Groups.PrimaryKey != "objectSid" ||
		c.Lines.Attribute != "ipPhone" || c.Users.BaseDN != "DC=ex,DC=com" || c.PageSize != 500 || c.Timeout != Duration(time.Minute) {
		t.Fatalf("AD defaults = %+v", c)
	}
	if c.Users.Contact["department"] != "department" || c.Users.Contact["pager"] != "" {
		t.Fatalf("AD contact = %v: want department and pager switched off", c.Users.Contact)
	}
	c, err = Parse([]byte("preset: ad\nurl: ldaps://dc1\nbase_dn: DC=ex,DC=com\nusers:\n  disabled: none\n  primary_group: none\n"))
	if err != nil || c.Users.Disabled != "" || c.Users.PrimaryGroup != "" || c.Users.ID != "sAMAccountName" {
		t.Fatalf("none did not switch the AD attributes off: %+v, %v", c.Users, err)
	}
	c, err = Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Users.ID != "uid" || c.Users.Disabled != "" || c.Groups.Filter != "(objectClass=groupOfNames)" || c.Lines.Attribute != "telephoneNumber" {
		t.Fatalf("OpenLDAP defaults = %+v", c)
	}
}

func TestParse_BadFilesNameTheField(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"no preset", "url: ldap://x\nbase_dn: dc=x\n", "preset"},
		{"unknown preset", "preset: novell\nurl: ldap://x\nbase_dn: dc=x\n", `preset: "novell"`},
		{"http url", "preset: ad\nurl: http://x\nbase_dn: dc=x\n", "url:"},
		{"no base", "preset: ad\nurl: ldap://x\n", "base_dn"},
		{"starttls on ldaps", "preset: ad\nurl: ldaps://x\nbase_dn: dc=x\nstart_tls: true\n", "start_tls"},
		{"typo", minimal + "wacth: 5m\n", "wacth"},
		{"bad duration", minimal + "watch: often\n", `"often" is not a duration`},
		{"page size", minimal + "page_size: 5000\n", "page_size"},
		{"contact field", minimal + "users:\n  contact:\n    shoe_size: x\n", "users.contact.shoe_size"},
		{"digits", minimal + "lines:\n  digits: 40\n", "lines.digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestReadPassword_FileOrEnvironmentNeverBoth(t *testing.T) {
	files := map[string]string{"/pw": "s3cret\n", "/empty": "\n"}
	readFile := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, errors.New("open " + p + ": no such file or directory")
	}
	env := func(k string) (string, bool) { return map[string]string{"PW": "from-env"}[k], k == "PW" }
	for _, tc := range []struct {
		name, file, env, want, errWant string
	}{
		{"file", "/pw", "", "s3cret", ""},
		{"env", "", "PW", "from-env", ""},
		{"both", "/pw", "PW", "", "not both"},
		{"neither", "", "", "", "neither"},
		{"missing file", "/nope", "", "", "no such file"},
		{"unset env", "", "NOPE", "", "NOPE is not set"},
		{"empty", "/empty", "", "", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{BindDN: "cn=sync", BindPasswordFile: tc.file, BindPasswordEnv: tc.env}
			err := c.readPassword(readFile, env)
			if tc.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errWant) {
					t.Fatalf("err = %v, want %q", err, tc.errWant)
				}
				return
			}
			if err != nil || c.bindPassword() != tc.want {
				t.Fatalf("password %q, err %v; want %q", c.bindPassword(), err, tc.want)
			}
			if printed := fmt.Sprintf("%+v %v", *c, c); strings.Contains(printed, tc.want) {
				t.Fatalf("printing the config shows the password: %s", printed)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("preset: ad\nurl: ldaps://dc1:636\nbase_dn: DC=x\nwatch: 15m\ngroups:\n  nested: true\n"))
	f.Add([]byte("preset: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(string(data), "\n") {
				t.Fatalf("multi-line error for one-line input: %q", err)
			}
			return
		}
		if c.Users.ID == "" || c.PageSize == 0 || c.PageSize > 1000 || c.Timeout <= 0 {
			t.Fatalf("accepted config without its defaults: %+v", c)
		}
	})
}

func TestParse_URLWithCredentialsRefused(t *testing.T) {
	_, err := Parse([]byte("preset: ad\nurl: ldap://sync:secret@dc1\nbase_dn: dc=x\n"))
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "bind_password_file") {
		t.Fatalf("err = %v, want the credentials refused without echoing them", err)
	}
}
