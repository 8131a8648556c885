package api

import (
	"time"
)

// maxUntilUnix is the first second RFC 3339 cannot write (year 10000);
// the directory refuses it too.
const maxUntilUnix = 253402300800

// parseUntil reads an optional end ("until" of a grant, a preset or a
// membership, "deputy_until" of a group): absent, null or "" is no end
// (0); otherwise an RFC 3339 time after now, as Unix seconds. A bad value
// is a 400 naming field.
func parseUntil(field string, v *string, now time.Time) (int64, error) {
	if v == nil || *v == "" {
		return 0, nil
	}
	until, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return 0, invalid(field, "%q is not an RFC 3339 time (e.g. 2027-01-31T18:00:00Z)", *v)
	}
	if until.Unix() <= now.Unix() {
		return 0, invalid(field, "%s is not in the future", *v)
	}
	if until.Unix() >= maxUntilUnix {
		return 0, invalid(field, "%s is after the year 9999", *v)
	}
	return until.Unix(), nil
}

// untilOut is a stored end on the wire: RFC 3339 in UTC, nil for none.
func untilOut(unix int64) *string {
	if unix == 0 {
		return nil
	}
	s := time.Unix(unix, 0).UTC().Format(time.RFC3339)
	return &s
}
