package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ucgrid/ucgrid/node"
)

// A config Start refuses is told by the flag that set the field.
func TestExplainStartError_NamesTheFlagOfABadConfigField(t *testing.T) {
	for _, tc := range []struct {
		cfg  node.Config
		want string
	}{
		{node.Config{DataDir: "d", HTTPAddr: "nocolon", RaftAddr: "127.0.0.1:0"},
			`--http "nocolon": want host:port: address nocolon: missing port in address`},
		{node.Config{DataDir: "d", HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", Join: []string{"10.0.0.1"}},
			`--join "10.0.0.1": want host:port: address 10.0.0.1: missing port in address`},
		{node.Config{DataDir: "d", HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", NodeID: "a\x00b"},
			`--node "a\x00b" holds a NUL byte`},
		{node.Config{DataDir: "d", HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", Site: "mün chen"},
			`--site "mün chen": use letters, digits and -, at most 32, starting with a letter or digit`},
	} {
		if got := explainStartError(tc.cfg.Validate(), serveOptions{}); got != tc.want {
			t.Errorf("explainStartError = %q, want %q", got, tc.want)
		}
	}
	// A field no flag sets alone keeps the package's words.
	err := node.Config{DataDir: "d", HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", RaftVoters: -1}.Validate()
	if got := explainStartError(err, serveOptions{}); got != err.Error() {
		t.Errorf("explainStartError = %q, want %q", got, err.Error())
	}
}

func TestExplainStartError_SiteMismatchStartsWithTheFlag(t *testing.T) {
	err := fmt.Errorf("node: start: %w: --site \"hamburg\", but the cluster recorded node \"n1\" in site \"munich\"; start it with --site munich", node.ErrSiteMismatch)
	got := explainStartError(err, serveOptions{})
	if !strings.HasPrefix(got, `--site "hamburg", but`) || !strings.Contains(got, "--site munich") {
		t.Errorf("explainStartError = %q, want the line from --site on", got)
	}
}
