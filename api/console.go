package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// The web console: plain HTML, CSS and JavaScript embedded in the binary
// (no build step), served at / and /console/. It signs in with
// POST /v1/tokens, keeps the bearer token in the tab's sessionStorage and
// uses only the /v1 routes; the live monitor is an EventSource on
// /v1/events?ticket= with a single-use ticket from POST /v1/events/tickets.
// app.js holds sign-in, the monitor, grants and groups; admin.js the
// profile, users, lines, trunks, settings and directory sync pages, shown
// as GET /v1/me allows. docs/api.md ("Web console") describes it.
//
//go:embed console
var consoleFiles embed.FS

// consoleCSP allows the console's own files and API only: no inline
// script, no third-party origin, no framing.
const consoleCSP = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// mountConsole serves the console on mux: GET / is the page, GET
// /console/... its files.
func mountConsole(mux *http.ServeMux) {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embedded directory exists at build time
	}
	files := http.StripPrefix("/console/", http.FileServerFS(sub))
	mux.Handle("GET /console/", consoleHeaders(files))
	mux.Handle("GET /{$}", consoleHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, sub, "index.html")
	})))
}

func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
