package api

import (
	"net/http"
	"net/url"
	"testing"
)

// Page cursors come from clients: any string decodes or is refused, never
// panics, and what encodeCursor made decodes to itself.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(1_800_000_000, "e1"), int64(5), "m00000000000000a1")
	f.Add("", int64(-1), "x")
	f.Add("OjE", int64(0), "a.b@c")
	f.Fuzz(func(t *testing.T, raw string, unix int64, id string) {
		_, _, _ = decodeCursor("after", raw) // refused or decoded: both fine
		if !idPattern.MatchString(id) {
			return
		}
		u, i, err := decodeCursor("after", encodeCursor(unix, id))
		if err != nil || u != unix || i != id {
			t.Fatalf("round trip of (%d, %q): (%d, %q, %v)", unix, id, u, i, err)
		}
	})
}

// Journal queries come from clients: any query string parses or is a 400
// naming a field, never a panic.
func FuzzParseJournalQuery(f *testing.F) {
	f.Add("from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&direction=in&limit=5&order=oldest")
	f.Add("after=%00&limit=-1")
	f.Fuzz(func(t *testing.T, query string) {
		if _, err := url.ParseQuery(query); err != nil {
			return
		}
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/v1/users/x/journal", RawQuery: query}}
		if _, err := parseJournalQuery(r); err != nil {
			if ae, ok := err.(*apiError); !ok || ae.status != 400 {
				t.Fatalf("%q: %v", query, err)
			}
		}
	})
}
