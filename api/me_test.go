package api

import (
	"net/http"
	"slices"
	"testing"
)

// TestMe_TellsEachCallerWhatTheyMayAdminister: the system owner holds
// every administrative action, g2's manager creates users and manages
// members but nothing system-wide, a plain member holds none; each sees
// their own groups and lines. The routes behind the console's admin
// pages refuse the plain member and the manager all the same.
func TestMe_TellsEachCallerWhatTheyMayAdminister(t *testing.T) {
	e := pullInFixture(t)
	cases := []struct {
		user   string
		may    mayJSON
		groups []meGroupJSON
		lines  []string
	}{
		{"admin", mayJSON{CreateUsers: true, ManageMembers: true, ListDirectory: true, ManageTrunks: true,
			ManageGlobal: true, AppointSystemRoles: true, SetServices: true}, []meGroupJSON{}, []string{}},
		{"boss", mayJSON{CreateUsers: true, ManageMembers: true}, []meGroupJSON{{"g2", "manager"}}, []string{"501"}},
		{"victim", mayJSON{}, []meGroupJSON{{"g2", "user"}}, []string{"502"}},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			var got meJSON
			e.must(http.StatusOK, as(tc.user), "GET", "/v1/me", nil).json(t, &got)
			if got.ID != tc.user || got.May != tc.may || !slices.Equal(got.Groups, tc.groups) || !slices.Equal(got.Lines, tc.lines) {
				t.Errorf("GET /v1/me = %+v, want may %+v, groups %v, lines %v", got, tc.may, tc.groups, tc.lines)
			}
		})
	}
	for _, user := range []string{"victim", "boss"} {
		e.must(http.StatusForbidden, as(user), "GET", "/v1/users", nil)
		e.must(http.StatusForbidden, as(user), "GET", "/v1/lines", nil)
		e.must(http.StatusForbidden, as(user), "GET", "/v1/trunks", nil)
		e.must(http.StatusForbidden, as(user), "PUT", "/v1/global", map[string]any{"level": "team"})
		e.must(http.StatusForbidden, as(user), "PUT", "/v1/trunks/t1", map[string]any{"name": "T", "addresses": []string{"192.0.2.0/24"}})
	}
	e.must(http.StatusForbidden, as("victim"), "PUT", "/v1/users/new1", map[string]any{"display_name": "New"})
	e.must(http.StatusUnauthorized, func(*http.Request) {}, "GET", "/v1/me", nil)
}
