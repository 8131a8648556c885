package peers

import "testing"

func TestBlockedVerdict(t *testing.T) {
	tests := []struct {
		name string
		ids  [][]string
		want bool
	}{
		{"no peer answered", nil, false},
		{"every peer has us", [][]string{{"a", "me"}, {"me", "b"}}, false},
		{"every peer left us out", [][]string{{"a", "b"}, {"a", "b"}}, true},
		{"one of two left us out (joining, or a split view)", [][]string{{"a", "b"}, {"a", "me"}}, false},
		{"two of three left us out", [][]string{{"a", "b"}, {"a", "b"}, {"me"}}, true},
		{"a starting peer with an empty topology proves nothing", [][]string{{}, {"a"}}, true},
		{"only starting peers", [][]string{{}, nil}, false},
	}
	for _, tt := range tests {
		if got := blockedVerdict("me", tt.ids); got != tt.want {
			t.Errorf("%s: blockedVerdict = %v, want %v", tt.name, got, tt.want)
		}
	}
}
