package api

import (
	"cmp"
	"context"
	"errors"
	"net/http"
)

// LineService is the runtime line state the line grains hold, already
// filtered for a viewer by the line rights of rights.tsv (line1_* for a
// primary line, line2_* for a secondary one): the seam through which
// GET /v1/lines/{number}/state and the monitor are served.
//
// Concurrency contract: as PresenceService (api/live.go): safe for many
// goroutines at once; blocks at most until ctx ends; refusals wrap
// ErrLiveForbidden or ErrLiveNotFound.
type LineService interface {
	// LineState returns the line as viewer may see it.
	LineState(ctx context.Context, viewer, number string, minIndex uint64) (LineState, error)
}

// LineState is one line as one viewer may see it. Hidden parts are zero
// and marked by the Sees* flags.
type LineState struct {
	Number string
	// Owner is the user id owning the line.
	Owner string
	// SeesState is false when the viewer may not see the state: State and
	// Calls are then empty.
	SeesState bool
	// State is "idle", "ringing" or "busy".
	State string
	Calls []LineCall
	// SeesForwarding tells whether ForwardingEnabled is shown;
	// ForwardingDestination is "" without see_forwarding_number.
	SeesForwarding        bool
	ForwardingEnabled     bool
	ForwardingDestination string
	// CanPickup: the viewer may pick up the ringing call now.
	CanPickup bool
	// CanForward: the viewer may change the line's forwarding.
	CanForward bool
	// AV is the owner's audio/video indicator as the viewer's
	// av_see_line_state grade shows it: "hidden", "available",
	// "unavailable" (busy shown gray) or "busy" (shown red).
	AV string
}

// LineCall is one call on a line. Remote is "" unless the viewer holds the
// line's incoming/outgoing right for its direction.
type LineCall struct {
	// Direction is "in" or "out".
	Direction string
	Remote    string
	Answered  bool
}

// showsNothing reports whether the viewer may see nothing of the line: it
// is then answered as if it did not exist, so that line numbers cannot be
// probed through this route.
func (l LineState) showsNothing() bool {
	return !l.SeesState && !l.SeesForwarding && !l.CanPickup && !l.CanForward
}

// lineStateJSON is a line state on the wire.
type lineStateJSON struct {
	Number         string         `json:"number"`
	Owner          string         `json:"owner"`
	SeesState      bool           `json:"sees_state"`
	State          string         `json:"state"`
	Calls          []lineCallJSON `json:"calls"`
	SeesForwarding bool           `json:"sees_forwarding"`
	Forwarding     forwardingJSON `json:"forwarding"`
	CanPickup      bool           `json:"can_pickup"`
	CanForward     bool           `json:"can_forward"`
	AV             string         `json:"av"`
}

type lineCallJSON struct {
	Direction string `json:"direction"`
	Remote    string `json:"remote"`
	Answered  bool   `json:"answered"`
}

func lineStateOut(l LineState) lineStateJSON {
	out := lineStateJSON{Number: l.Number, Owner: l.Owner, SeesState: l.SeesState, State: l.State,
		Calls: make([]lineCallJSON, 0, len(l.Calls)), SeesForwarding: l.SeesForwarding,
		Forwarding: forwardingJSON{Enabled: l.ForwardingEnabled, Destination: l.ForwardingDestination},
		CanPickup:  l.CanPickup, CanForward: l.CanForward, AV: cmp.Or(l.AV, "hidden")}
	for _, c := range l.Calls {
		out.Calls = append(out.Calls, lineCallJSON(c))
	}
	return out
}

// errLineHidden answers both an unknown line and one the caller may see
// nothing of, with the same body.
func errLineHidden(number string) error {
	return errorf(http.StatusNotFound, codeNotFound, "line %q does not exist or you may see nothing of it", number)
}

// getLineState serves GET /v1/lines/{number}/state.
func (h *Handler) getLineState(w http.ResponseWriter, r *http.Request, c *caller) error {
	number, err := pathNumber(r, "number")
	if err != nil {
		return err
	}
	l, err := h.lineState(r.Context(), c, number)
	if err != nil {
		return err
	}
	return h.ok(w, lineStateOut(l))
}

// lineState asks the line grain for number as c sees it; a line c may see
// nothing of is errLineHidden.
func (h *Handler) lineState(ctx context.Context, c *caller, number string) (LineState, error) {
	l, err := h.cfg.Live.Lines.LineState(ctx, c.id(), number, c.index)
	switch {
	case errors.Is(err, ErrLiveNotFound), errors.Is(err, ErrLiveForbidden):
		return LineState{}, errLineHidden(number)
	case err != nil:
		return LineState{}, err
	case l.showsNothing():
		return LineState{}, errLineHidden(number)
	}
	return l, nil
}
