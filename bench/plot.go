package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
)

// Plot geometry: one row per metric, latency over time on the left, the
// distribution on the right.
const (
	plotW, panelW, panelH = 1000, 440, 220
	rowH                  = panelH + 80
	marginL, marginT      = 60, 50
)

// WritePlot writes the result as an SVG picture to path: the calls
// completed, refused and failed per second when the result has a
// Goodput, then for each metric, p50/p99/max latency per second of the
// run and the distribution of latencies on a logarithmic axis.
// Hand-written SVG: no dependency.
func (r *Result) WritePlot(path string) error {
	var b strings.Builder
	r.svg(&b)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}

func (r *Result) svg(w io.Writer) {
	rows := len(r.Metrics)
	if r.Goodput != nil {
		rows++
	}
	h := marginT + rowH*max(rows, 1)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", plotW, h)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="20" font-size="15">ucgrid bench %s — %s, %d cores, %s</text>`+"\n",
		esc(r.Scenario), esc(r.Machine.CPU), r.Machine.Cores, esc(r.Machine.GoVersion))
	y := marginT
	if r.Goodput != nil {
		goodputPanel(w, r.Goodput, marginL, y)
		goodputSummary(w, r.Goodput, marginL+panelW+60, y)
		y += rowH
	}
	for _, m := range r.Metrics {
		timelinePanel(w, m, marginL, y)
		distributionPanel(w, m, marginL+panelW+60, y)
		y += rowH
	}
	fmt.Fprintln(w, "</svg>")
}

func esc(s string) string { return html.EscapeString(s) }

func frame(w io.Writer, x, y int, title, xlabel, ylabel string) {
	fmt.Fprintf(w, `<text x="%d" y="%d" font-size="13">%s</text>`+"\n", x, y+14, esc(title))
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", x, y+20, panelW, panelH)
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x+panelW/2, y+20+panelH+30, esc(xlabel))
	fmt.Fprintf(w, `<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>`+"\n",
		x-45, y+20+panelH/2, x-45, y+20+panelH/2, esc(ylabel))
}

func timelinePanel(w io.Writer, m Metric, x, y int) {
	frame(w, x, y, m.Name+": latency per second", "seconds into the run", "ms")
	top := 0.0
	for _, p := range m.Timeline {
		top = max(top, p.Max)
	}
	if len(m.Timeline) == 0 || top == 0 {
		return
	}
	top = niceCeil(top)
	y0 := float64(y + 20 + panelH)
	sx := float64(panelW) / float64(max(len(m.Timeline)-1, 1))
	sy := float64(panelH) / top
	axisLabels(w, x, y, top, fmt.Sprintf("%.0f", m.Timeline[len(m.Timeline)-1].T))
	for _, s := range []struct {
		color string
		val   func(Point) float64
	}{{"#bbb", func(p Point) float64 { return p.Max }}, {"#d62728", func(p Point) float64 { return p.P99 }},
		{"#1f77b4", func(p Point) float64 { return p.P50 }}} {
		var pts []string
		for i, p := range m.Timeline {
			if p.Count == 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(x)+float64(i)*sx, y0-s.val(p)*sy))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
	}
	for i, p := range m.Timeline {
		if p.Errors > 0 {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="black"><title>%d errors</title></circle>`+"\n",
				float64(x)+float64(i)*sx, y0-4, p.Errors)
		}
	}
	legend := []string{"#1f77b4 p50", "#d62728 p99", "#bbb max", "black errors"}
	for i, l := range legend {
		c, n, _ := strings.Cut(l, " ")
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x+panelW-250+i*62, y+5, c, x+panelW-237+i*62, y+14, n)
	}
}

func distributionPanel(w io.Writer, m Metric, x, y int) {
	frame(w, x, y, m.Name+": distribution", "latency, ms (log scale)", "operations")
	var top uint64
	for _, b := range m.Distribution {
		top = max(top, b.Count)
	}
	if top == 0 {
		return
	}
	n := len(m.Distribution)
	bw := float64(panelW) / float64(n)
	y0 := float64(y + 20 + panelH)
	for i, b := range m.Distribution {
		hgt := float64(b.Count) / float64(top) * panelH
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1f77b4"><title>%.3g–%.3g ms: %d</title></rect>`+"\n",
			float64(x)+float64(i)*bw+0.5, y0-hgt, bw-1, hgt, b.LowMs, b.HighMs, b.Count)
	}
	for i := 0; i <= n; i += max(n/5, 1) {
		edge := m.Distribution[min(i, n-1)].LowMs
		if i == n {
			edge = m.Distribution[n-1].HighMs
		}
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle">%.3g</text>`+"\n", float64(x)+float64(i)*bw, y0+14, edge)
	}
	for _, q := range []struct {
		name string
		v    float64
	}{{"p50", m.P50}, {"p99", m.P99}} {
		lo, hi := m.Distribution[0].LowMs, m.Distribution[n-1].HighMs
		if q.v <= lo || hi <= lo {
			continue
		}
		px := float64(x) + math.Log(q.v/lo)/math.Log(hi/lo)*panelW
		fmt.Fprintf(w, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#d62728" stroke-dasharray="4 3"/><text x="%.1f" y="%.1f" fill="#d62728">%s</text>`+"\n",
			px, px, y0, y0-panelH, px+3, y0-panelH+12, q.name)
	}
}

func axisLabels(w io.Writer, x, y int, top float64, right string) {
	y0 := y + 20 + panelH
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		yy := float64(y0) - float64(panelH)*float64(i)/4
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%.3g</text><line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n",
			x-4, yy+4, v, x, x+panelW, yy, yy)
	}
	fmt.Fprintf(w, `<text x="%d" y="%d">0</text><text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", x, y0+14, x+panelW, y0+14, right)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
