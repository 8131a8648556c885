package api

import (
	_ "embed" // the OpenAPI document is part of the binary
	"net/http"
)

// OpenAPI is the OpenAPI 3 description of the /v1 routes, served at
// /v1/openapi.yaml. The tests validate every response they receive
// against it.
//
//go:embed openapi.yaml
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-cache")
	// A failed write means the client left.
	_, _ = w.Write(OpenAPI)
}
