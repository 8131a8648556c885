package api

import (
	"net/http"
	"strconv"
)

// page is one page of a list: the items and the cursor of the next page
// ("" on the last one), to pass as ?after=.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// Page sizes of the list routes.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageParams reads ?after= and ?limit= (1..1000, default 100).
func pageParams(r *http.Request) (after string, limit int, err error) {
	q := r.URL.Query()
	after, limit = q.Get("after"), defaultPageSize
	if err := checkText("after", after, maxText); err != nil {
		return "", 0, err
	}
	if raw := q.Get("limit"); raw != "" {
		limit, err = strconv.Atoi(raw)
		if err != nil || limit < 1 || limit > maxPageSize {
			return "", 0, invalid("limit", "%q is not a whole number from 1 to %d", raw, maxPageSize)
		}
	}
	return after, limit, nil
}
