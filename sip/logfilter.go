package sip

import (
	"context"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sipgo logs a message it cannot parse at ERROR with the whole message
// and without its source: anyone could flood the log, and a REGISTER
// with a broken header would put its credentials there. The server gives
// sipgo a logger whose handler (logFilter) rewrites those records: one
// WARN per source address per minute, the message cut to maxLoggedBytes
// with Authorization and Proxy-Authorization values redacted, the rest
// counted in ucgrid_sip_unparsable_total. The source is found through
// the transport read filter, which remembers the last reads by content
// (recentReads). sipgo's read errors (a peer gone, a timeout) go to
// DEBUG.

// maxLoggedBytes is how much of an unparsable message is logged.
const maxLoggedBytes = 128

// unparsableLogEvery is how often one source's unparsable messages are
// logged.
const unparsableLogEvery = time.Minute

// onceEvery allows one event per key per period.
type onceEvery struct {
	period time.Duration

	mu   sync.Mutex
	last map[string]time.Time
}

func newOnceEvery(period time.Duration) *onceEvery {
	return &onceEvery{period: period, last: map[string]time.Time{}}
}

func (o *onceEvery) allow(key string, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if at, ok := o.last[key]; ok && now.Sub(at) < o.period {
		return false
	}
	if len(o.last) >= 4096 {
		for k, at := range o.last {
			if now.Sub(at) >= o.period {
				delete(o.last, k)
			}
		}
	}
	o.last[key] = now
	return true
}

// recentReads remembers where the last reads came from, by a hash of
// their bytes.
type recentReads struct {
	mu   sync.Mutex
	ring [256]readEntry
	next int
}

type readEntry struct {
	sum uint64
	src string
}

func hashBytes(b []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(b) // never fails
	return h.Sum64()
}

// filter is the transport read filter: it notes the read and passes it
// on unchanged.
func (r *recentReads) filter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	src := ""
	if p.RemoteAddr != nil {
		src = hostOf(p.RemoteAddr.String())
	}
	e := readEntry{sum: hashBytes(data), src: src}
	r.mu.Lock()
	r.ring[r.next] = e
	r.next = (r.next + 1) % len(r.ring)
	r.mu.Unlock()
	return data, nil
}

// source is the address data was read from, "" when not remembered.
func (r *recentReads) source(data string) string {
	sum := hashBytes([]byte(data))
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.ring {
		e := r.ring[(r.next-1-i+2*len(r.ring))%len(r.ring)]
		if e.sum == sum && e.src != "" {
			return e.src
		}
	}
	return ""
}

// logFilter is the slog handler sipgo logs through.
type logFilter struct {
	next  slog.Handler
	reads *recentReads
	once  *onceEvery
	count func()
}

func (h *logFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || l >= slog.LevelError
}

func (h *logFilter) Handle(ctx context.Context, r slog.Record) error {
	switch r.Message {
	case "failed to parse":
		return h.unparsable(ctx, r)
	case "Read error", "Read connection error":
		if !h.next.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		d := slog.NewRecord(r.Time, slog.LevelDebug, "sip: read", r.PC)
		r.Attrs(func(a slog.Attr) bool { d.AddAttrs(a); return true })
		return h.next.Handle(ctx, d)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *logFilter) unparsable(ctx context.Context, r slog.Record) error {
	h.count()
	var data, reason string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "data":
			data = a.Value.String()
		case "error":
			reason = a.Value.String()
		}
		return true
	})
	src := h.reads.source(data)
	if src == "" {
		src = "unknown"
	}
	if !h.once.allow(src, r.Time) || !h.next.Enabled(ctx, slog.LevelWarn) {
		return nil
	}
	w := slog.NewRecord(r.Time, slog.LevelWarn, "sip: unparsable message (further ones from this source are not logged for a minute)", r.PC)
	w.AddAttrs(slog.String("source", src), slog.String("err", loggable(reason)), slog.String("data", loggable(data)))
	return h.next.Handle(ctx, w)
}

func (h *logFilter) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *logFilter) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}

// loggable is s with credentials redacted, cut to maxLoggedBytes.
func loggable(s string) string {
	s = redactCredentials(s)
	if len(s) > maxLoggedBytes {
		s = s[:maxLoggedBytes] + "…"
	}
	return s
}

// redactCredentials replaces the values of Authorization and
// Proxy-Authorization headers, and any digest credentials ("Digest …" to
// the end of the line, as a parse error may quote them), with
// "<redacted>".
func redactCredentials(s string) string {
	s = redactAfter(s, "authorization", true)
	return redactAfter(s, "digest ", false)
}

// redactAfter redacts the rest of the line after each occurrence of key
// (case-insensitive); with colon, only where key is followed by ':'.
func redactAfter(s, key string, colon bool) string {
	lower := asciiLower(s) // same length as s, unlike strings.ToLower
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(lower[i:], key)
		if j < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		j += i + len(key)
		k := j - 1
		if colon {
			k = j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
			if k >= len(s) || s[k] != ':' {
				b.WriteString(s[i:j])
				i = j
				continue
			}
		}
		end := strings.IndexAny(s[k:], "\r\n")
		if end < 0 {
			end = len(s)
		} else {
			end += k
		}
		b.WriteString(s[i : k+1])
		b.WriteString(" <redacted>")
		i = end
		if i >= len(s) {
			return b.String()
		}
	}
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
