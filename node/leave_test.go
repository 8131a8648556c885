package node

import (
	"context"
	"testing"
	"time"
)

func TestSIPDrainDeadline_LeavesTheReserveOfTheStop(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name  string
		after time.Duration // the stop's deadline from now; 0 = none
		want  time.Duration
	}{
		{"serve's 10 s drain timeout", 10 * time.Second, 7 * time.Second},
		{"no deadline", 0, sipDrainMax},
		{"a long deadline is capped", time.Minute, sipDrainMax},
		{"shorter than the reserve: no drain", 2 * time.Second, -time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.after > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, now.Add(tc.after))
				defer cancel()
			}
			if got := sipDrainDeadline(ctx, now).Sub(now); got != tc.want {
				t.Errorf("drain deadline %v after now, want %v", got, tc.want)
			}
		})
	}
}
