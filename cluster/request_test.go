package cluster

import (
	"testing"
	"time"
)

func TestRetryDelay_GrowsExponentiallyWithJitterUpToMax(t *testing.T) {
	base, maxDelay := 20*time.Millisecond, 400*time.Millisecond
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 10 * time.Millisecond, 20 * time.Millisecond},
		{1, 20 * time.Millisecond, 40 * time.Millisecond},
		{3, 80 * time.Millisecond, 160 * time.Millisecond},
		{5, 200 * time.Millisecond, 400 * time.Millisecond},  // 640ms capped
		{62, 200 * time.Millisecond, 400 * time.Millisecond}, // no overflow
	}
	for _, tt := range tests {
		for range 200 {
			d := retryDelay(tt.attempt, base, maxDelay)
			if d < tt.min || d > tt.max {
				t.Fatalf("retryDelay(%d) = %v, want within [%v, %v]", tt.attempt, d, tt.min, tt.max)
			}
		}
	}
}
