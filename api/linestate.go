package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/ucgrid/ucgrid/actors"
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
	LineState(ctx context.Context, viewer, number string, minIndex uint64) (actors.LineView, error)
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

func lineStateOut(l actors.LineView) lineStateJSON {
	out := lineStateJSON{Number: l.Number, Owner: l.Owner, SeesState: l.SeesState,
		Calls: make([]lineCallJSON, 0, len(l.Calls)), SeesForwarding: l.SeesForwarding,
		Forwarding: forwardingOut(l.Forwarding),
		CanPickup:  l.CanPickup, CanForward: l.CanForward, AV: l.AV.String()}
	if l.SeesState {
		out.State = l.State.String()
	}
	for _, c := range l.Calls {
		out.Calls = append(out.Calls, lineCallJSON{Direction: c.Direction.String(), Remote: c.Remote, Answered: c.Answered})
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
func (h *Handler) lineState(ctx context.Context, c *caller, number string) (actors.LineView, error) {
	l, err := h.cfg.Live.Lines.LineState(ctx, c.id(), number, c.index)
	switch {
	case errors.Is(err, ErrLiveNotFound), errors.Is(err, ErrLiveForbidden):
		return actors.LineView{}, errLineHidden(number)
	case err != nil:
		return actors.LineView{}, err
	case l.ShowsNothing():
		return actors.LineView{}, errLineHidden(number)
	}
	return l, nil
}
