package api

import (
	"errors"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Checks other writers of the directory (the LDAP sync) run so that what
// they store is what the API would accept from a client. Each error is
// one line naming the field.

// CheckUserRecord reports why PUT /v1/users/{id} would refuse u.
func CheckUserRecord(u *dirpb.User) error {
	if err := checkID("id", u.GetId()); err != nil {
		return plain(err)
	}
	in := userOut(u)
	return plain(in.validate(u.GetId()))
}

// CheckID reports why id is not a user, group or trunk id.
func CheckID(field, id string) error { return plain(checkID(field, id)) }

// CheckNumber reports why n is not a line or call-group number.
func CheckNumber(field, n string) error { return plain(checkNumber(field, n)) }

// CheckText reports why s is not a name or label (too long, control
// characters, not UTF-8).
func CheckText(field, s string) error { return plain(checkText(field, s, maxText)) }

// plain drops the HTTP status of an *apiError, keeping its message.
func plain(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return errors.New(ae.msg)
	}
	return err
}
