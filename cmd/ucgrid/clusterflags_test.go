package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseServeOptions_ClusterFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // "" = accepted
	}{
		{"single node needs no secret", nil, ""},
		{"join without a secret", []string{"--join", "10.0.0.1:7946"}, "--cluster-secret is required with --join"},
		{"short secret", []string{"--cluster-secret", "short"}, "too short"},
		{"join with a secret", []string{"--join", "10.0.0.1:7946", "--cluster-secret", "0123456789abcdef"}, ""},
		{"voters not a number", []string{"--raft-voters", "three"}, "--raft-voters"},
		{"voters zero", []string{"--raft-voters", "0"}, "--raft-voters"},
		{"dead-after too short", []string{"--raft-dead-after", "10ms"}, "--raft-dead-after"},
		{"dead-after not a duration", []string{"--raft-dead-after", "soon"}, "--raft-dead-after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseServeOptions(tc.args, env(nil), io.Discard)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
