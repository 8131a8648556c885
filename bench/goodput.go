package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// refusedMetric names the refusals' latency metric of a SIP scenario.
const refusedMetric = "INVITE→503 (refused)"

// Goodput is what a SIP call scenario did with the calls offered, past
// its capacity above all: how many it completed per second (the
// goodput), how many it refused at once with 503 (and how fast), how
// many failed otherwise (timeouts, other statuses, the generator's own
// "overload"), in total and per second of the run. It is the "goodput"
// object of --json.
type Goodput struct {
	OfferedPerS   float64 `json:"offered_per_s"`
	CompletedPerS float64 `json:"completed_per_s"`
	RefusedPerS   float64 `json:"refused_per_s"`
	FailedPerS    float64 `json:"failed_per_s"`
	// RefusalP50Ms and RefusalP99Ms are the INVITE→503 latency of the
	// refused calls: a node that sheds load answers at once.
	RefusalP50Ms float64        `json:"refusal_p50_ms"`
	RefusalP99Ms float64        `json:"refusal_p99_ms"`
	Timeline     []GoodputPoint `json:"timeline"`
}

// GoodputPoint is one whole second of the measured window: the calls
// that completed, were refused (503) or failed otherwise in it.
type GoodputPoint struct {
	T         float64 `json:"t_s"`
	Completed uint64  `json:"completed"`
	Refused   uint64  `json:"refused"`
	Failed    uint64  `json:"failed"`
}

// recordRefusal records a call answered 503 into refused, with its
// latency from due (when the call was meant to start).
func recordRefusal(refused *Recorder, due time.Time, err error) {
	var ce *callError
	if errors.As(err, &ce) && ce.code == 503 {
		now := time.Now()
		refused.Observe(now, now.Sub(due))
	}
}

// newGoodput sums up a run from its answered calls (successes: calls
// completed; errors: every call that was not, 503s included) and its
// refusals (a 503 each), over elapsed.
func newGoodput(answered, refused Metric, elapsed time.Duration) *Goodput {
	s := elapsed.Seconds()
	if s <= 0 {
		return nil
	}
	g := &Goodput{
		OfferedPerS:   float64(answered.Count+answered.Errors) / s,
		CompletedPerS: float64(answered.Count) / s,
		RefusedPerS:   float64(refused.Count) / s,
		FailedPerS:    float64(answered.Errors-min(refused.Count, answered.Errors)) / s,
		RefusalP50Ms:  refused.P50,
		RefusalP99Ms:  refused.P99,
	}
	// Whole seconds of the window only: the last, partial one would
	// show as a fall, and calls ending after the window are its tail.
	secs := int(s + 0.05)
	for i := range min(max(len(answered.Timeline), len(refused.Timeline)), secs) {
		p := GoodputPoint{T: float64(i)}
		var errs uint64
		if i < len(answered.Timeline) {
			p.Completed, errs = answered.Timeline[i].Count, answered.Timeline[i].Errors
		}
		if i < len(refused.Timeline) {
			p.Refused = refused.Timeline[i].Count
		}
		p.Failed = errs - min(errs, p.Refused)
		g.Timeline = append(g.Timeline, p)
	}
	return g
}

// writeGoodput prints g as two lines of the result's table.
func writeGoodput(w io.Writer, g *Goodput) {
	fmt.Fprintf(w, "goodput: %s calls/s completed of %s/s offered; refused %s/s (503; INVITE→503 p50 %.3f ms, p99 %.3f ms); failed otherwise %s/s\n",
		human(g.CompletedPerS), human(g.OfferedPerS), human(g.RefusedPerS), g.RefusalP50Ms, g.RefusalP99Ms, human(g.FailedPerS))
}

// goodputPanel draws calls completed, refused and failed per second of
// the run.
func goodputPanel(w io.Writer, g *Goodput, x, y int) {
	frame(w, x, y, "calls/s by outcome", "seconds into the run", "calls/s")
	var top uint64
	for _, p := range g.Timeline {
		top = max(top, p.Completed, p.Refused, p.Failed)
	}
	if len(g.Timeline) == 0 || top == 0 {
		return
	}
	ceil := niceCeil(float64(top))
	y0 := float64(y + 20 + panelH)
	sx := float64(panelW) / float64(max(len(g.Timeline)-1, 1))
	sy := float64(panelH) / ceil
	axisLabels(w, x, y, ceil, fmt.Sprintf("%.0f", g.Timeline[len(g.Timeline)-1].T))
	for _, s := range goodputSeries {
		pts := make([]string, 0, len(g.Timeline))
		for i, p := range g.Timeline {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(x)+float64(i)*sx, y0-float64(s.val(p))*sy))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`+"\n",
			s.color, strings.Join(pts, " "), s.name)
	}
	for i, s := range goodputSeries {
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x+panelW-250+i*82, y+5, s.color, x+panelW-237+i*82, y+14, s.name)
	}
}

// goodputSeries are the lines of goodputPanel.
var goodputSeries = []struct {
	name, color string
	val         func(GoodputPoint) uint64
}{
	{"completed", "#2ca02c", func(p GoodputPoint) uint64 { return p.Completed }},
	{"refused", "#ff7f0e", func(p GoodputPoint) uint64 { return p.Refused }},
	{"failed", "#d62728", func(p GoodputPoint) uint64 { return p.Failed }},
}

// goodputSummary is the right half of the goodput row: the run's rates.
func goodputSummary(w io.Writer, g *Goodput, x, y int) {
	lines := []string{
		fmt.Sprintf("offered %s calls/s", human(g.OfferedPerS)),
		fmt.Sprintf("completed %s calls/s (goodput)", human(g.CompletedPerS)),
		fmt.Sprintf("refused %s/s with 503", human(g.RefusedPerS)),
		fmt.Sprintf("INVITE→503 p50 %.3g ms, p99 %.3g ms", g.RefusalP50Ms, g.RefusalP99Ms),
		fmt.Sprintf("failed otherwise %s/s", human(g.FailedPerS)),
	}
	for i, l := range lines {
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="13">%s</text>`+"\n", x, y+40+i*20, esc(l))
	}
}
