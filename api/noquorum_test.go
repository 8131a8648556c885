package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/persistence"
)

// A write on a node cut off from the majority is refused with 503
// no_quorum, a message that says the directory cannot be changed from
// here and why, what still works, and a Retry-After.
func TestClassify_NoLeaderIsNoQuorumWithActionableMessage(t *testing.T) {
	err := fmt.Errorf("%w: no leader heard from for 7.2s", persistence.ErrNoLeader)
	ae := (&Handler{}).classify(err)
	if ae.status != http.StatusServiceUnavailable || ae.code != codeNoQuorum || ae.retryAfter != time.Second {
		t.Fatalf("classify(ErrNoLeader) = %d %s retry %v, want 503 no_quorum retry 1s", ae.status, ae.code, ae.retryAfter)
	}
	for _, want := range []string{"cannot be changed", "cannot reach a majority of the cluster", "not applied", "no leader heard from for 7.2s"} {
		if !strings.Contains(ae.msg, want) {
			t.Errorf("message %q lacks %q", ae.msg, want)
		}
	}
}
