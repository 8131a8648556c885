package officehours

import (
	"fmt"
	"sync"
	"time"
	_ "time/tzdata" // embed the zone database so every IANA name loads on any machine
)

// zones caches time.LoadLocation by name, failures included: a Location is
// immutable and the embedded database does not change while the process
// runs, so the cache only saves reading and parsing zone files per verdict.
var zones sync.Map // name → zoneEntry

type zoneEntry struct {
	loc *time.Location
	err error
}

// loadZone returns the location named by an IANA time zone name; "" is UTC.
// "Local" is refused: it names the machine's zone, which differs between
// the nodes of a cluster.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if e, ok := zones.Load(name); ok {
		z := e.(zoneEntry)
		return z.loc, z.err
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		loc, err = nil, fmt.Errorf("%w %q", ErrUnknownTimeZone, name)
	}
	zones.Store(name, zoneEntry{loc: loc, err: err})
	return loc, err
}
