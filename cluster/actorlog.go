package cluster

import (
	"context"
	"fmt"
	"log/slog"
)

// actorLogMinLevel is the lowest level protoactor-go may log at. Its debug
// logs include request message bodies (cluster/default_context.go).
const actorLogMinLevel = slog.LevelInfo

// redactedKeys are the attribute keys under which protoactor-go logs whole
// messages (dead letters, supervision failures, serialization errors).
// Grain messages carry presence, which must never reach a log (DESIGN.md
// §1), so only the message's type is kept.
var redactedKeys = map[string]bool{"message": true, "msg": true}

// actorLogHandler wraps the handler protoactor-go logs through: it drops
// records below actorLogMinLevel and replaces message bodies by their type.
type actorLogHandler struct {
	inner slog.Handler
}

func newActorLogHandler(inner slog.Handler) slog.Handler {
	return actorLogHandler{inner: inner}
}

func (h actorLogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= actorLogMinLevel && h.inner.Enabled(ctx, level)
}

func (h actorLogHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redact(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h actorLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redact(a)
	}
	return actorLogHandler{inner: h.inner.WithAttrs(red)}
}

func (h actorLogHandler) WithGroup(name string) slog.Handler {
	return actorLogHandler{inner: h.inner.WithGroup(name)}
}

func redact(a slog.Attr) slog.Attr {
	if !redactedKeys[a.Key] {
		return a
	}
	return slog.String(a.Key+"_type", fmt.Sprintf("%T", a.Value.Any()))
}
