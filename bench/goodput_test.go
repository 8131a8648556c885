package bench

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// overloadRun records what a node past its capacity does in 3 s:
// second 0 completes 10 calls; second 1 completes 8 and refuses 20 (in
// 5 ms each); second 2 completes 9, refuses 30 (in 1 ms) and lets 2
// time out.
func overloadRun(start time.Time) (answered, refused *Recorder) {
	answered, refused = NewRecorder("INVITE→200 (call)", start), NewRecorder(refusedMetric, start)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	for i := range 10 {
		answered.Observe(at(0.05*float64(i)), 20*time.Millisecond)
	}
	for i := range 8 {
		answered.Observe(at(1+0.1*float64(i)), 20*time.Millisecond)
	}
	for i := range 20 {
		answered.Fail(at(1+0.04*float64(i)), "503")
		refused.Observe(at(1+0.04*float64(i)), 5*time.Millisecond)
	}
	for i := range 9 {
		answered.Observe(at(2+0.1*float64(i)), 20*time.Millisecond)
	}
	for i := range 30 {
		answered.Fail(at(2+0.03*float64(i)), "503")
		refused.Observe(at(2+0.03*float64(i)), time.Millisecond)
	}
	answered.Fail(at(2.5), "timeout")
	answered.Fail(at(2.6), "timeout")
	return answered, refused
}

func TestNewGoodput_CountsCompletedRefusedAndFailedPerSecond(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	answered, refused := overloadRun(start)
	elapsed := 3 * time.Second
	g := newGoodput(answered.Metric(elapsed), refused.Metric(elapsed), elapsed)
	want := []GoodputPoint{{0, 10, 0, 0}, {1, 8, 20, 0}, {2, 9, 30, 2}}
	if len(g.Timeline) != len(want) {
		t.Fatalf("timeline %+v, want %+v", g.Timeline, want)
	}
	for i := range want {
		if g.Timeline[i] != want[i] {
			t.Errorf("second %d: %+v, want %+v", i, g.Timeline[i], want[i])
		}
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"offered/s", g.OfferedPerS, 79.0 / 3},
		{"completed/s", g.CompletedPerS, 27.0 / 3},
		{"refused/s", g.RefusedPerS, 50.0 / 3},
		{"failed/s", g.FailedPerS, 2.0 / 3},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// 30 of 50 refusals took 1 ms, 20 took 5 ms (0.8 % buckets).
	if g.RefusalP50Ms < 0.99 || g.RefusalP50Ms > 1.01 || g.RefusalP99Ms < 4.95 || g.RefusalP99Ms > 5.05 {
		t.Errorf("refusal p50 %v ms, p99 %v ms; want 1 and 5", g.RefusalP50Ms, g.RefusalP99Ms)
	}
	if g := newGoodput(answered.Metric(elapsed), refused.Metric(elapsed), 2500*time.Millisecond); len(g.Timeline) != 2 {
		t.Errorf("a 2.5 s window: timeline %+v, want its 2 whole seconds", g.Timeline)
	}
	if newGoodput(Metric{}, Metric{}, 0) != nil {
		t.Error("an empty window has a goodput")
	}
}

func TestRecordRefusal_OnlyA503IsARefusal(t *testing.T) {
	start := time.Now()
	refused := NewRecorder(refusedMetric, start)
	due := start.Add(-10 * time.Millisecond)
	recordRefusal(refused, due, &callError{code: 503, retryAfter: time.Second})
	recordRefusal(refused, due, &callError{code: 486})
	recordRefusal(refused, due, errors.New("timeout"))
	recordRefusal(refused, due, nil)
	m := refused.Metric(time.Second)
	if m.Count != 1 || m.Errors != 0 {
		t.Fatalf("refusals %d (errors %d), want 1", m.Count, m.Errors)
	}
	if m.P50 < 10 {
		t.Errorf("INVITE→503 %v ms, want ≥ 10 ms (from when the call was due)", m.P50)
	}
}

func TestWritePlot_DrawsGoodputAndRefusals(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	answered, refused := overloadRun(start)
	elapsed := 3 * time.Second
	am, rm := answered.Metric(elapsed), refused.Metric(elapsed)
	r := &Result{Scenario: "hunt", Metrics: []Metric{am, rm}, Goodput: newGoodput(am, rm, elapsed)}
	var b strings.Builder
	r.svg(&b)
	svg := b.String()
	for _, want := range []string{"calls/s by outcome", "<title>completed</title>", "<title>refused</title>",
		"refused 16.7/s with 503", "INVITE→503 p50 1 ms, p99 5 ms", `height="950"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the plot lacks %q", want)
		}
	}
	// The refused line: 0, 20, 30 calls/s on a 50 calls/s axis, 220 px high.
	if !strings.Contains(svg, `points="60.0,290.0 280.0,202.0 500.0,158.0"><title>refused`) {
		t.Errorf("the refused line is not 0, 20, 30 per second:\n%s", svg)
	}
	var tb strings.Builder
	if err := r.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.String(), "goodput: 9 calls/s completed of 26.3/s offered; refused 16.7/s") {
		t.Errorf("the table:\n%s", tb.String())
	}
}
