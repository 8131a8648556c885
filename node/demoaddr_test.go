package node

import "testing"

// The demo tells people where their phones register: a wildcard bind is
// no address a phone can dial, a named one is printed as it is.
func TestPhoneSIPAddr_WildcardBindNamesThePort(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:5060":     "any address of this host, port 5060",
		"[::]:5070":        "any address of this host, port 5070",
		"127.0.0.1:5060":   "127.0.0.1:5060",
		"192.0.2.10:15060": "192.0.2.10:15060",
	} {
		if got := phoneSIPAddr(in); got != want {
			t.Errorf("phoneSIPAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
