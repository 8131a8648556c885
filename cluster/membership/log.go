package membership

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// newStdLogger returns a *log.Logger for memberlist that forwards each line
// to logger at the level memberlist wrote in its "[LEVEL] " prefix.
func newStdLogger(logger *slog.Logger) *log.Logger {
	return log.New(slogWriter{logger: logger.With("component", "memberlist")}, "", 0)
}

type slogWriter struct {
	logger *slog.Logger
}

var levelPrefixes = []struct {
	prefix []byte
	level  slog.Level
}{
	{[]byte("[DEBUG] "), slog.LevelDebug},
	{[]byte("[INFO] "), slog.LevelInfo},
	{[]byte("[WARN] "), slog.LevelWarn},
	{[]byte("[ERR] "), slog.LevelError},
	{[]byte("[ERROR] "), slog.LevelError},
}

// Write logs one line written by log.Logger. It never fails: a logger must
// not break memberlist.
func (w slogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	level := slog.LevelInfo
	for _, lp := range levelPrefixes {
		if bytes.HasPrefix(line, lp.prefix) {
			level, line = lp.level, line[len(lp.prefix):]
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.logger.Log(context.Background(), level, string(line))
	return len(p), nil
}
