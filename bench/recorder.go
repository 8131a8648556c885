package bench

import (
	"sync"
	"time"
)

// Recorder collects the latencies and errors of one measured operation
// (a rights check, a delivery, an INVITE→180) over a run, in total and
// per second of the run. Safe for concurrent use.
type Recorder struct {
	name  string
	start time.Time

	mu     sync.Mutex
	total  Histogram
	errors uint64
	errs   map[string]uint64 // error kind → count, for the report
	slots  []*slot           // one per second since start
}

type slot struct {
	h      Histogram
	errors uint64
}

// NewRecorder starts a recorder whose timeline begins at start.
func NewRecorder(name string, start time.Time) *Recorder {
	return &Recorder{name: name, start: start, errs: map[string]uint64{}}
}

func (r *Recorder) slotAt(t time.Time) *slot {
	i := max(int(t.Sub(r.start)/time.Second), 0)
	for len(r.slots) <= i {
		r.slots = append(r.slots, &slot{})
	}
	return r.slots[i]
}

// Observe records one successful operation that took d and ended at end.
func (r *Recorder) Observe(end time.Time, d time.Duration) {
	r.mu.Lock()
	r.total.Record(d)
	r.slotAt(end).h.Record(d)
	r.mu.Unlock()
}

// Fail records one failed operation; kind groups failures in the report
// ("timeout", "503", "480").
func (r *Recorder) Fail(end time.Time, kind string) {
	r.mu.Lock()
	r.errors++
	r.errs[kind]++
	r.slotAt(end).errors++
	r.mu.Unlock()
}

// Counts returns the successes and failures so far.
func (r *Recorder) Counts() (ok, failed uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total.Count(), r.errors
}

// Metric summarises the recorder over elapsed (the measured window).
func (r *Recorder) Metric(elapsed time.Duration) Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := &r.total
	m := Metric{
		Name: r.name, Count: h.Count(), Errors: r.errors,
		P50: ms(h.Quantile(0.50)), P95: ms(h.Quantile(0.95)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: ms(h.Mean()),
		Distribution: h.Distribution(40),
	}
	if len(r.errs) > 0 {
		m.ErrorKinds = make(map[string]uint64, len(r.errs))
		for k, v := range r.errs {
			m.ErrorKinds[k] = v
		}
	}
	if s := elapsed.Seconds(); s > 0 {
		m.Throughput = float64(m.Count) / s
	}
	if total := m.Count + m.Errors; total > 0 {
		m.ErrorRate = float64(m.Errors) / float64(total)
	}
	for i, s := range r.slots {
		m.Timeline = append(m.Timeline, Point{
			T: float64(i), Count: s.h.Count(), Errors: s.errors,
			P50: ms(s.h.Quantile(0.5)), P99: ms(s.h.Quantile(0.99)), Max: ms(s.h.Max()),
		})
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
