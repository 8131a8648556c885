package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sippRun is what one SIPp load process measured: its statistics rows
// (one per second, the last one final) and its response times by rtd.
type sippRun struct {
	start time.Time
	wall  time.Duration
	head  []string
	rows  [][]string
	rtd   map[string][]rtdSample
	cpu   time.Duration // the server's, during the run; 0 = unknown
	cpuOK bool
}

type rtdSample struct {
	at time.Time
	d  time.Duration
}

// runLoad runs the scenario sf against the target at the load's rate for
// its duration (rate × duration calls) and reads what SIPp measured.
// Calls still under way when the last one starts are let finish.
func (e *sippEnv) runLoad(ctx context.Context, l LoadConfig, sf string, args ...string) (*sippRun, error) {
	calls := max(int(l.Rate*l.Duration.Seconds()), 1)
	dir := filepath.Join(e.dir, "load")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	limit := l.Duration*2 + 30*time.Second
	args = append([]string{e.target, "-sf", sf, "-r", strconv.FormatFloat(l.Rate, 'f', -1, 64),
		"-m", strconv.Itoa(calls), "-i", "127.0.0.1", "-timeout", strconv.Itoa(int(limit.Seconds())) + "s",
		"-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-stf", "stat.csv", "-fd", "1"}, args...)
	cmd := sippCmd(ctx, dir, args...)
	cpu0, _ := e.cpuNow()
	run := &sippRun{start: time.Now()}
	out, err := cmd.CombinedOutput()
	run.wall = time.Since(run.start)
	if cpu1, ok := e.cpuNow(); ok {
		run.cpu, run.cpuOK = cpu1-cpu0, true
	}
	// Exit 1 says some calls failed: that is a measurement, not an error.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		return nil, fmt.Errorf("bench: sipp: %v %s", err, lastLine(out))
	}
	return run, run.read(dir)
}

func (e *sippEnv) cpuNow() (time.Duration, bool) {
	if e.cpu == nil {
		return 0, false
	}
	return e.cpu()
}

func (r *sippRun) read(dir string) error {
	rows, err := readSIPpCSV(filepath.Join(dir, "stat.csv"))
	if err != nil {
		return err
	}
	if len(rows) < 2 {
		return fmt.Errorf("bench: sipp wrote no statistics in %s", dir)
	}
	r.head, r.rows = rows[0], rows[1:]
	files, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	r.rtd = map[string][]rtdSample{}
	for _, f := range files {
		if err := r.readRTT(f); err != nil {
			return err
		}
	}
	return nil
}

func readSIPpCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: sipp output: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comma, cr.FieldsPerRecord, cr.LazyQuotes = ';', -1, true
	var rows [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", path, err)
		}
		rows = append(rows, rec)
	}
}

// readRTT reads a -trace_rtt file: date (ms since SIPp started, or since
// the epoch), response time (ms), rtd name.
func (r *sippRun) readRTT(path string) error {
	rows, err := readSIPpCSV(path)
	if err != nil {
		return err
	}
	for i, row := range rows {
		if i == 0 || len(row) < 3 {
			continue // the header
		}
		date, err1 := strconv.ParseFloat(row[0], 64)
		ms, err2 := strconv.ParseFloat(row[1], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		at := r.start.Add(time.Duration(date * float64(time.Millisecond)))
		if date > 1e12 {
			at = time.UnixMicro(int64(date * 1000))
		}
		r.rtd[row[2]] = append(r.rtd[row[2]], rtdSample{at: at, d: time.Duration(ms * float64(time.Millisecond))})
	}
	return nil
}

// count is the final value of the cumulative statistics column name.
func (r *sippRun) count(name string) uint64 {
	return r.cell(len(r.rows)-1, name)
}

func (r *sippRun) cell(row int, name string) uint64 {
	for i, h := range r.head {
		if h == name && i < len(r.rows[row]) {
			v, _ := strconv.ParseUint(strings.TrimSpace(r.rows[row][i]), 10, 64)
			return v
		}
	}
	return 0
}

// failureKinds counts the failed calls by SIPp's reason (its
// Failed…(C) columns).
func (r *sippRun) failureKinds() map[string]uint64 {
	kinds := map[string]uint64{}
	for _, h := range r.head {
		if k, ok := strings.CutPrefix(h, "Failed"); ok && strings.HasSuffix(k, "(C)") && k != "Call(C)" {
			if v := r.count(h); v > 0 {
				kinds[strings.TrimSuffix(k, "(C)")] = v
			}
		}
	}
	return kinds
}

// seconds is the measured window: from the start to the start of the
// last call SIPp timed, plus one call's spacing at rate (the tail of
// calls still ringing or held is no offered load); SIPp's whole run when
// it timed none.
func (r *sippRun) seconds(rate float64) time.Duration {
	var last time.Duration
	for _, s := range r.rtd {
		for _, x := range s {
			last = max(last, x.at.Sub(r.start)-x.d)
		}
	}
	if last <= 0 {
		return r.wall
	}
	return last + time.Duration(float64(time.Second)/rate)
}

// recorder turns the rtd samples of name into a Recorder; with failures,
// it also records the failed calls, per second of the run (SIPp's
// FailedCall(P) of each -fd row), by the kinds of the whole run.
func (r *sippRun) recorder(metric, rtd string, failures bool) *Recorder {
	rec := NewRecorder(metric, r.start)
	for _, s := range r.rtd[rtd] {
		rec.Observe(s.at, s.d)
	}
	if !failures {
		return rec
	}
	kind := "failed"
	if k := r.failureKinds(); len(k) == 1 {
		for name := range k {
			kind = name
		}
	}
	var n uint64
	for i := range r.rows {
		at := r.start.Add(time.Duration(i) * time.Second)
		if i == len(r.rows)-1 {
			at = r.start.Add(r.wall) // the final row: the remainder, at the end
		}
		for range r.rowFailures(i, &n) {
			rec.Fail(at, kind)
		}
	}
	return rec
}

// rowFailures is row i's failed calls: its FailedCall(P), and on the
// final row what the periodic rows have not counted of FailedCall(C); n
// counts those recorded so far.
func (r *sippRun) rowFailures(i int, n *uint64) uint64 {
	v := r.cell(i, "FailedCall(P)")
	if i == len(r.rows)-1 {
		v = r.count("FailedCall(C)") - min(*n, r.count("FailedCall(C)"))
	}
	*n += v
	return v
}

// figures are the run's counts as single numbers: noun is what SIPp's
// calls are ("calls", "REGISTERs").
// A call refused with 503 (rtd "refused") ends SIPp's scenario as a
// success: it counts as refused, not completed.
func (r *sippRun) figures(noun string, window time.Duration) []Figure {
	started, ok, failed := r.count("OutgoingCall(C)"), r.count("SuccessfulCall(C)"), r.count("FailedCall(C)")
	refused := uint64(len(r.rtd["refused"]))
	ok -= min(refused, ok)
	s := window.Seconds()
	figs := []Figure{
		{Name: noun + " attempted", Value: float64(started)},
		{Name: noun + " completed", Value: float64(ok)},
		{Name: noun + " failed", Value: float64(failed)},
		{Name: noun + "/s attempted", Value: float64(started) / s, Unit: "/s"},
		{Name: noun + "/s completed", Value: float64(ok) / s, Unit: "/s"},
	}
	if refused > 0 {
		figs = append(figs, Figure{Name: noun + " refused (503)", Value: float64(refused)})
	}
	for k, v := range r.failureKinds() {
		figs = append(figs, Figure{Name: noun + " failed: " + k, Value: float64(v)})
	}
	if r.cpuOK && started > 0 {
		figs = append(figs, Figure{Name: "server CPU per " + strings.TrimSuffix(noun, "s"),
			Value: float64(r.cpu) / float64(time.Millisecond) / float64(started), Unit: "ms"},
			Figure{Name: "server CPU over SIPp's run", Value: 100 * r.cpu.Seconds() / r.wall.Seconds(), Unit: "% of a core"})
	}
	return figs
}
