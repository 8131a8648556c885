package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestActorLogHandler_RedactsMessageBodiesAndDebug(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(newActorLogHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	secret := wrapperspb.String("presence=dnd")

	logger.Debug("Requesting", "message", secret)
	logger.Info("[DeadLetter]", "message", secret, "pid", "p1")
	logger.With("msg", secret).Error("[Supervision]")

	out := buf.String()
	if strings.Contains(out, "dnd") {
		t.Errorf("log shows a message body:\n%s", out)
	}
	if strings.Contains(out, "Requesting") {
		t.Errorf("debug record passed:\n%s", out)
	}
	for _, want := range []string{"message_type=*wrapperspb.StringValue", "pid=p1", "msg_type=*wrapperspb.StringValue"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
