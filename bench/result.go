package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a scenario measured: one Metric per measured operation,
// plus the machine and configuration it ran on. It is the JSON of
// --json FILE.
type Result struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	// Seconds is the measured window (set-up and warm-up excluded).
	Seconds float64  `json:"seconds"`
	Metrics []Metric `json:"metrics"`
	// Figures are single numbers that are no latency distribution
	// (failover time, RSS, cold start).
	Figures []Figure `json:"figures,omitempty"`
	// Goodput sums up a call scenario's calls: completed, refused (503)
	// and failed per second (hunt).
	Goodput *Goodput `json:"goodput,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	Machine Machine  `json:"machine"`
	Config  any      `json:"config"`
}

// Metric is one row of the table: a measured operation.
type Metric struct {
	Name string `json:"name"`
	// Throughput is successful operations per second of the window.
	Throughput float64 `json:"throughput_per_s"`
	Count      uint64  `json:"count"`
	Errors     uint64  `json:"errors"`
	ErrorRate  float64 `json:"error_rate"`
	// ErrorKinds counts the failures by kind (status code, "timeout").
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	// Latencies in milliseconds.
	Mean         float64  `json:"mean_ms"`
	P50          float64  `json:"p50_ms"`
	P95          float64  `json:"p95_ms"`
	P99          float64  `json:"p99_ms"`
	P999         float64  `json:"p999_ms"`
	Max          float64  `json:"max_ms"`
	Timeline     []Point  `json:"timeline,omitempty"`
	Distribution []Bucket `json:"distribution,omitempty"`
}

// Point is one second of a metric's timeline.
type Point struct {
	T      float64 `json:"t_s"`
	Count  uint64  `json:"count"`
	Errors uint64  `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
}

// Figure is a single measured number.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Machine describes where a result was measured.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// ThisMachine describes the machine the process runs on.
func ThisMachine() Machine {
	return Machine{CPU: cpuModel(), Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// WriteTable prints the result as a table a person reads.
func (r *Result) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "scenario %s: %.1f s measured on %s (%d cores, %s)\n", r.Scenario, r.Seconds,
		r.Machine.CPU, r.Machine.Cores, r.Machine.GoVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tthroughput/s\tcount\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors\terror %\t")
	for _, m := range r.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.3f\t\n", m.Name, human(m.Throughput), m.Count,
			m.P50, m.P95, m.P99, m.Max, m.Errors, 100*m.ErrorRate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range r.Metrics {
		if len(m.ErrorKinds) > 0 {
			fmt.Fprintf(w, "errors of %s: %v\n", m.Name, m.ErrorKinds)
		}
	}
	if r.Goodput != nil {
		writeGoodput(w, r.Goodput)
	}
	for _, f := range r.Figures {
		fmt.Fprintf(w, "%s: %s %s\n", f.Name, human(f.Value), f.Unit)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// WriteJSON writes the result as indented JSON to path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}

// Metric returns the metric named name, or nil.
func (r *Result) Metric(name string) *Metric {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return &r.Metrics[i]
		}
	}
	return nil
}

// Figure returns the figure named name and whether it exists.
func (r *Result) Figure(name string) (float64, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}
