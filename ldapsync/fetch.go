package ldapsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Entry is one LDAP entry as the plan reads it: attribute names are
// lower-cased; a binary objectSid is given as its RID (the last
// sub-authority, what primaryGroupID names).
type Entry struct {
	DN    string
	Attrs map[string][]string
}

// First returns the first value of attr, or "".
func (e Entry) First(attr string) string {
	if v := e.Attrs[strings.ToLower(attr)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Snapshot is what a fetch read: the people and the groups.
type Snapshot struct {
	Users  []Entry
	Groups []Entry
}

// ErrBind is returned (wrapped) when the server refuses the bind
// credentials.
var ErrBind = errors.New("ldapsync: bind refused")

// Fetch connects, binds and reads the people and groups the mapping
// selects, page by page. The error is one line naming the server; it
// never holds the password.
func Fetch(ctx context.Context, c *Config) (*Snapshot, error) {
	conn, err := dial(ctx, c)
	if err != nil {
		return nil, err
	}
	defer conn.Close()                                          //nolint:errcheck // the searches' results are what count
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() }) // a cancelled sync ends its search; the search reports why
	defer stop()
	if err := bind(conn, c); err != nil {
		return nil, err
	}
	s := &Snapshot{}
	if s.Users, err = search(conn, c, c.Users.BaseDN, c.Users.Filter, userAttrs(c)); err != nil {
		return nil, fmt.Errorf("ldapsync: search people under %q: %w", c.Users.BaseDN, err)
	}
	if !c.Groups.Disabled {
		if s.Groups, err = search(conn, c, c.Groups.BaseDN, c.Groups.Filter, groupAttrs(c)); err != nil {
			return nil, fmt.Errorf("ldapsync: search groups under %q: %w", c.Groups.BaseDN, err)
		}
	}
	return s, nil
}

func dial(ctx context.Context, c *Config) (*ldap.Conn, error) {
	tc, err := tlsConfig(c)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: time.Duration(c.Timeout)}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	conn, err := ldap.DialURL(c.URL, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, fmt.Errorf("ldapsync: connect to %s: %w", c.URL, err)
	}
	conn.SetTimeout(time.Duration(c.Timeout))
	if c.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			_ = conn.Close() // the StartTLS error is the one to report
			return nil, fmt.Errorf("ldapsync: StartTLS with %s: %w", c.URL, err)
		}
	}
	return conn, nil
}

func tlsConfig(c *Config) (*tls.Config, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("ldapsync: url: %w", err)
	}
	tc := &tls.Config{ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldapsync: ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldapsync: ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	return tc, nil
}

func bind(conn *ldap.Conn, c *Config) error {
	if c.BindDN == "" {
		return nil // anonymous: the searches show what the server allows
	}
	if err := conn.Bind(c.BindDN, c.bindPassword()); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return fmt.Errorf("%w: %s refused the password of %q (invalid credentials): check bind_password_file / bind_password_env", ErrBind, c.URL, c.BindDN)
		}
		return fmt.Errorf("%w: bind as %q to %s: %v", ErrBind, c.BindDN, c.URL, err)
	}
	return nil
}

func search(conn *ldap.Conn, c *Config, base, filter string, attrs []string) ([]Entry, error) {
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0,
		int(time.Duration(c.Timeout)/time.Second), false, filter, attrs, nil)
	res, err := conn.SearchWithPaging(req, c.PageSize)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(res.Entries))
	for _, e := range res.Entries {
		entry, more := entryOf(e)
		for attr, next := range more {
			if err := readRanges(conn, entry, attr, next); err != nil {
				return nil, err
			}
		}
		out = append(out, entry)
	}
	return out, nil
}

// maxRangeReads bounds the range searches of one attribute (Active
// Directory sends 1500 values a time: 300 reads are 450 000 members).
const maxRangeReads = 300

// readRanges reads the rest of a multi-valued attribute Active Directory
// sent in ranges ("member;range=0-1499"; a group of more than 1500
// members), from value next on, into e.
func readRanges(conn *ldap.Conn, e Entry, attr string, next int) error {
	for range maxRangeReads {
		req := ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{fmt.Sprintf("%s;range=%d-*", attr, next)}, nil)
		res, err := conn.Search(req)
		if err != nil {
			return fmt.Errorf("read %s of %q from value %d: %w", attr, e.DN, next, err)
		}
		if len(res.Entries) != 1 {
			return nil
		}
		got, more := entryOf(res.Entries[0])
		e.Attrs[attr] = append(e.Attrs[attr], got.Attrs[attr]...)
		n, ok := more[attr]
		if !ok {
			return nil
		}
		next = n
	}
	return fmt.Errorf("read %s of %q: more than %d ranges", attr, e.DN, maxRangeReads)
}

// rangedAttr splits an attribute name with a range option,
// "member;range=0-1499", into the attribute and where the next range
// starts (1500; -1 for the last range, "…-*").
func rangedAttr(name string) (attr string, next int, ok bool) {
	attr, opt, found := strings.Cut(name, ";range=")
	if !found {
		return name, 0, false
	}
	_, hi, found := strings.Cut(opt, "-")
	if !found {
		return name, 0, false
	}
	if hi == "*" {
		return attr, -1, true
	}
	n, err := strconv.Atoi(hi)
	if err != nil {
		return name, 0, false
	}
	return attr, n + 1, true
}

// entryOf converts an entry; more maps each attribute sent in ranges and
// not complete yet to where its next range starts.
func entryOf(e *ldap.Entry) (out Entry, more map[string]int) {
	out = Entry{DN: e.DN, Attrs: make(map[string][]string, len(e.Attributes))}
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		if attr, next, ok := rangedAttr(name); ok {
			out.Attrs[attr] = append(out.Attrs[attr], a.Values...)
			if next >= 0 {
				if more == nil {
					more = map[string]int{}
				}
				more[attr] = next
			}
			continue
		}
		if name == "objectsid" {
			for _, raw := range a.ByteValues {
				if rid, ok := sidRID(raw); ok {
					out.Attrs[name] = append(out.Attrs[name], strconv.FormatUint(uint64(rid), 10))
				}
			}
			continue
		}
		out.Attrs[name] = append(out.Attrs[name], a.Values...)
	}
	return out, more
}

// sidRID returns the last sub-authority of a binary security identifier
// (revision, count, 6-byte authority, count 32-bit little-endian
// sub-authorities).
func sidRID(b []byte) (uint32, bool) {
	if len(b) < 8 {
		return 0, false
	}
	n := int(b[1])
	if n == 0 || len(b) < 8+4*n {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[8+4*(n-1):]), true
}

func userAttrs(c *Config) []string {
	u := c.Users
	attrs := []string{u.ID, u.DisplayName, "cn", u.Email, u.Disabled, u.PrimaryGroup, u.Site}
	if c.Groups.FromMemberOf {
		attrs = append(attrs, "memberOf")
	}
	if !c.Lines.Disabled {
		attrs = append(attrs, c.Lines.Attribute)
	}
	for _, a := range u.Contact {
		attrs = append(attrs, a)
	}
	return nonEmpty(attrs)
}

func groupAttrs(c *Config) []string {
	g := c.Groups
	return nonEmpty([]string{g.ID, g.Name, g.Member, g.PrimaryKey, g.Site})
}

func nonEmpty(in []string) []string {
	out := in[:0]
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
