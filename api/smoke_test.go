package api

import (
	"net/http"
	"testing"
)

func TestSmoke_AdminPutsAndReadsUser(t *testing.T) {
	e := newEnv(t)
	r := e.must(http.StatusCreated, as("admin"), "PUT", "/v1/users/anna", map[string]any{"display_name": "Anna", "password": "secret-pw-1"})
	t.Logf("%s %v", r, r.header)
	e.must(http.StatusOK, as("admin"), "GET", "/v1/users/anna", nil)
	e.must(http.StatusOK, basic("anna", "secret-pw-1"), "GET", "/v1/users/anna/card", nil)
	e.must(http.StatusNotFound, as("admin"), "GET", "/v1/nothing", nil)
	e.must(http.StatusMethodNotAllowed, as("admin"), "POST", "/v1/users/anna", nil)
	e.must(http.StatusOK, anonymous, "GET", "/v1/openapi.yaml", nil)
}
