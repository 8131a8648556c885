package main

import (
	"io"
	"runtime/debug"
	"testing"
)

func TestGCSettings_ParsedFromFlagsAndSizes(t *testing.T) {
	tests := []struct {
		args    []string
		percent int
		limit   int64
	}{
		{[]string{"--memory-limit", "off"}, 400, 0},
		{[]string{"--gc-percent", "150", "--memory-limit", "2GiB"}, 150, 2 << 30},
		{[]string{"--memory-limit", "1500MB"}, 400, 1500e6},
		{[]string{"--memory-limit", "268435456"}, 400, 256 << 20},
	}
	for _, tc := range tests {
		o, err := parseServeOptions(tc.args, env(nil), io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		s, _ := o.gcSettings()
		if s.percent != tc.percent || s.memLimit != tc.limit {
			t.Errorf("%v: got percent %d limit %d, want %d and %d", tc.args, s.percent, s.memLimit, tc.percent, tc.limit)
		}
	}
}

func TestGCSettings_AutoLimitIsThreeQuartersOfTheCgroup(t *testing.T) {
	o, err := parseServeOptions(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := o.gcSettings()
	max, limited := cgroupMemoryMax()
	switch {
	case limited && s.memLimit != max/4*3:
		t.Errorf("auto limit %d with cgroup memory.max %d, want 3/4 of it", s.memLimit, max)
	case !limited && s.memLimit != 0:
		t.Errorf("auto limit %d without a cgroup limit, want none", s.memLimit)
	}
}

// The Go runtime's own variables win over the flags: an operator who sets
// GOGC or GOMEMLIMIT gets exactly that.
func TestGCSettings_RuntimeEnvironmentWins(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	oldLimit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(oldLimit)

	gcSettings{percent: 300, memLimit: 1 << 30}.apply(env(map[string]string{"GOGC": "100", "GOMEMLIMIT": "4GiB"}))
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set in the environment, flag applied anyway: percent %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != oldLimit {
		t.Errorf("GOMEMLIMIT set in the environment, flag applied anyway: limit %d", got)
	}
	gcSettings{percent: 300, memLimit: 1 << 30}.apply(env(nil))
	if got := debug.SetGCPercent(100); got != 300 {
		t.Errorf("percent %d, want the flag's 300", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit %d, want the flag's 1 GiB", got)
	}
}
