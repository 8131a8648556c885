package persistence

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckTrunkPrefix_RejectsWideRanges(t *testing.T) {
	cases := []struct {
		prefix string
		ok     bool
	}{
		{"0.0.0.0/0", false},
		{"::/0", false},
		{"10.0.0.0/8", false},
		{"172.16.0.0/15", false},
		{"172.16.0.0/16", true},
		{"192.0.2.0/24", true},
		{"192.0.2.7/32", true},
		{"2001:db8::/32", false},
		{"2001:db8::/47", false},
		{"2001:db8::/48", true},
		{"2001:db8::1/128", true},
		{"::ffff:0.0.0.0/96", false},
		{"::ffff:10.0.0.0/104", false},
		{"::ffff:192.0.2.0/120", true},
		{"::/8", false},
	}
	for _, tc := range cases {
		p := netip.MustParsePrefix(tc.prefix)
		err := CheckTrunkPrefix(p, false)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrWideTrunk)) {
			t.Errorf("CheckTrunkPrefix(%s) = %v, want ok=%v", tc.prefix, err, tc.ok)
		}
		if err := CheckTrunkPrefix(p, true); err != nil {
			t.Errorf("CheckTrunkPrefix(%s, allowWide) = %v", tc.prefix, err)
		}
	}
}
