package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// gcSettings are the Go garbage collector's settings for a node: how far
// the heap may grow between collections (GOGC) and the soft memory limit
// at which the collector runs regardless (GOMEMLIMIT). A zero memLimit
// leaves the limit off.
type gcSettings struct {
	percent  int
	memLimit int64
}

// gcSettings parses --gc-percent and --memory-limit. The cgroup limit is
// read only for --memory-limit auto.
func (o serveOptions) gcSettings() (gcSettings, error) {
	var s gcSettings
	p, err := strconv.Atoi(o.GCPercent)
	if err != nil || p < 25 || p > 10000 {
		return s, fmt.Errorf("--gc-percent %q: give a number from 25 to 10000, e.g. 400 (Go's own default is 100)", o.GCPercent)
	}
	s.percent = p
	switch v := strings.TrimSpace(o.MemoryLimit); v {
	case "off":
	case "auto":
		if limit, ok := cgroupMemoryMax(); ok {
			s.memLimit = limit / 4 * 3
		}
	default:
		n, err := parseBytes(v)
		if err != nil || n < 64<<20 {
			return s, fmt.Errorf("--memory-limit %q: give auto, off, or a size of at least 64MiB, e.g. 2GiB or 1500MB", o.MemoryLimit)
		}
		s.memLimit = n
	}
	return s, nil
}

// apply sets the collector, except where the operator set GOGC or
// GOMEMLIMIT in the environment: the Go runtime's own variables win.
func (s gcSettings) apply(lookupEnv func(string) (string, bool)) {
	if _, ok := lookupEnv("GOGC"); !ok {
		debug.SetGCPercent(s.percent)
	}
	if _, ok := lookupEnv("GOMEMLIMIT"); !ok && s.memLimit > 0 {
		debug.SetMemoryLimit(s.memLimit)
	}
}

// byteUnits are the suffixes --memory-limit takes, longest first.
var byteUnits = []struct {
	suffix string
	factor int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

// parseBytes reads a size such as 2GiB, 1500MB or 1073741824.
func parseBytes(v string) (int64, error) {
	factor := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(v, u.suffix) {
			v, factor = strings.TrimSuffix(v, u.suffix), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * factor, nil
}

// cgroupMemoryMax is the memory limit of this process's cgroup (v2), if
// one is set.
func cgroupMemoryMax() (int64, bool) {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil { // "max": no limit
		return 0, false
	}
	return n, true
}
