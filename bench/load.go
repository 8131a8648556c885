package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig is how a scenario drives its operations.
type LoadConfig struct {
	// Duration is the measured window. Default 10s.
	Duration time.Duration `json:"duration"`
	// Rate is the open-loop rate, operations started per second whatever
	// the answers' latency (so a slow server meets queueing, as with real
	// phones). 0 = closed loop: Concurrency workers, each starting the
	// next operation when its last one ended (the maximum throughput).
	Rate float64 `json:"rate"`
	// Concurrency is the closed loop's workers, and the open loop's bound
	// on operations in flight: an operation due while that many are open
	// is counted as an error ("overload") instead of started. Default 64.
	Concurrency int `json:"concurrency"`
	// Progress receives a progress line every second; nil = none.
	Progress io.Writer `json:"-"`
}

// WithDefaults returns a copy of l with every zero field set to its
// documented default.
func (l LoadConfig) WithDefaults() LoadConfig {
	if l.Duration == 0 {
		l.Duration = 10 * time.Second
	}
	if l.Concurrency == 0 {
		l.Concurrency = 64
	}
	return l
}

// Validate reports the first invalid field of l with its defaults filled
// in (WithDefaults), as one error naming the field.
func (l LoadConfig) Validate() error {
	l = l.WithDefaults()
	switch {
	case l.Duration < 0:
		return invalidConfig("LoadConfig.Duration", "%v is negative", l.Duration)
	case l.Rate < 0:
		return invalidConfig("LoadConfig.Rate", "%g is negative", l.Rate)
	case l.Concurrency < 0:
		return invalidConfig("LoadConfig.Concurrency", "%d is negative", l.Concurrency)
	}
	return nil
}

// op is one operation: i counts operations from 0, due is when the open
// loop meant to start it (the start of a latency measured from it, so a
// stalled generator shows as latency; coordinated omission).
type op func(ctx context.Context, i int, due time.Time)

// drive runs op for the window and returns its measured length. recs are
// the recorders the progress line reports; overload failures go to the
// first.
func drive(ctx context.Context, l LoadConfig, start time.Time, recs []*Recorder, f op) time.Duration {
	ctx, cancel := context.WithDeadline(ctx, start.Add(l.Duration))
	defer cancel()
	stopProgress := progress(l, start, recs)
	defer stopProgress()
	var wg sync.WaitGroup
	if l.Rate <= 0 {
		var next atomic.Int64
		// An operation runs without the window's deadline: the last ones
		// finish instead of counting as timeouts.
		opCtx := context.WithoutCancel(ctx)
		for range l.Concurrency {
			wg.Go(func() {
				for ctx.Err() == nil {
					f(opCtx, int(next.Add(1)-1), time.Now())
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	openLoop(ctx, l, start, recs[0], &wg, f)
	wg.Wait()
	return min(time.Since(start), l.Duration)
}

func openLoop(ctx context.Context, l LoadConfig, start time.Time, rec *Recorder, wg *sync.WaitGroup, f op) {
	interval := time.Duration(float64(time.Second) / l.Rate)
	var inflight atomic.Int64
	// Operations run in the run's context without its deadline: one
	// started at the end of the window may finish.
	opCtx := context.WithoutCancel(ctx)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > time.Millisecond {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait): // pacing the generator, not waiting for a result
			}
		}
		if ctx.Err() != nil {
			return
		}
		if inflight.Load() >= int64(l.Concurrency) {
			rec.Fail(time.Now(), "overload")
			continue
		}
		inflight.Add(1)
		wg.Go(func() {
			defer inflight.Add(-1)
			f(opCtx, i, due)
		})
	}
}

// progress prints one line a second (rate, p99 so far, errors) until the
// returned function is called.
func progress(l LoadConfig, start time.Time, recs []*Recorder) func() {
	if l.Progress == nil || len(recs) == 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := make([]uint64, len(recs))
		for {
			select {
			case <-done:
				fmt.Fprint(l.Progress, "\r\033[K")
				return
			case now := <-t.C:
				line := fmt.Sprintf("\r[%3.0fs/%.0fs]", now.Sub(start).Seconds(), l.Duration.Seconds())
				for i, r := range recs {
					ok, failed := r.Counts()
					line += fmt.Sprintf(" %s %s/s err %d;", r.name, human(float64(ok-last[i])), failed)
					last[i] = ok
				}
				fmt.Fprint(l.Progress, line)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
