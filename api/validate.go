package api

import (
	"net/url"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // every IANA zone name validates on any machine
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Identifier syntax. Ids end up in keys, URLs, SIP URIs and logs, so they
// are kept to characters that need no escaping anywhere.
var (
	// idPattern: users, groups, trunks. Letters, digits and . _ @ - ; an
	// e-mail address is a valid user id.
	idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)
	// numberPattern: line and call-group numbers, destinations: dial
	// strings of digits, * and #, with an optional leading +.
	numberPattern = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)
)

// Bounds on free text.
const (
	maxText     = 256  // names, labels, contact fields
	maxLongText = 1024 // addresses, URLs
	maxList     = 100  // phones, keys, monitor groups, trunk addresses
	maxMembers  = 5000 // members of one group
)

func checkID(field, id string) error {
	if !idPattern.MatchString(id) {
		return invalid(field, "%q is not an id (1-128 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit)", id)
	}
	return nil
}

func checkNumber(field, n string) error {
	if !numberPattern.MatchString(n) {
		return invalid(field, "%q is not a number (1-32 of 0-9 * #, optionally after +)", n)
	}
	return nil
}

// checkText rejects over-long strings and control characters.
func checkText(field, s string, limit int) error {
	if len(s) > limit {
		return invalid(field, "longer than %d bytes", limit)
	}
	if !utf8.ValidString(s) {
		return invalid(field, "not UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid(field, "holds a control character")
		}
	}
	return nil
}

// checkLanguage accepts "" or a BCP 47 tag such as "de" or "en-GB".
func checkLanguage(field, s string) error {
	if s == "" {
		return nil
	}
	if _, err := language.Parse(s); err != nil || len(s) > 35 {
		return invalid(field, "%q is not a BCP 47 language tag (e.g. de, en-GB)", s)
	}
	return nil
}

// checkTimezone accepts "" or an IANA zone name such as "Europe/Berlin".
func checkTimezone(field, s string) error {
	if s == "" {
		return nil
	}
	if s == "Local" || len(s) > 64 {
		return invalid(field, "%q is not an IANA time zone name", s)
	}
	if _, err := time.LoadLocation(s); err != nil {
		return invalid(field, "%q is not an IANA time zone name (e.g. Europe/Berlin)", s)
	}
	return nil
}

// checkURL accepts "" or an absolute http(s) URL.
func checkURL(field, s string) error {
	if s == "" {
		return nil
	}
	if err := checkText(field, s, maxLongText); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid(field, "%q is not an absolute http or https URL", s)
	}
	return nil
}

// checkEmail is a sanity check, not RFC 5322: one @ with text around it.
func checkEmail(field, s string) error {
	if s == "" {
		return nil
	}
	if err := checkText(field, s, maxText); err != nil {
		return err
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(s, " \t") || strings.Contains(domain, "@") {
		return invalid(field, "%q is not an e-mail address", s)
	}
	return nil
}
