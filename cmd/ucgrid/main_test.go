package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun_CommandsAndExitCodes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrIn string
	}{
		{"version", []string{"version"}, 0, "ucgrid dev\n", ""},
		{"no command", nil, 2, "", "usage: ucgrid"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, "usage: ucgrid", ""},
		{"ldap without subcommand", []string{"ldap"}, 2, "", "ucgrid ldap sync"},
		{"ldap sync without password", []string{"ldap", "sync", "--http", "127.0.0.1:1"}, 2, "", "no password"},
		{"ldap check without file", []string{"ldap", "check"}, 2, "", "--config FILE is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.HasPrefix(out.String(), tc.stdout) {
				t.Errorf("stdout %q, want prefix %q", out.String(), tc.stdout)
			}
			if !strings.Contains(errb.String(), tc.stderrIn) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderrIn)
			}
			if tc.name == "unknown command" && strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
				t.Errorf("error is not short: %q", errb.String())
			}
		})
	}
}
