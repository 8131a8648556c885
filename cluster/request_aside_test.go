package cluster

import (
	"testing"
	"time"
)

func TestAsideCalls_WaitEndsWhenTheLastCallEnds(t *testing.T) {
	var a asideCalls
	if left := a.wait(time.Hour); left != 0 {
		t.Fatalf("nothing aside: wait reported %d", left)
	}
	a.add()
	a.add()
	release := make(chan struct{})
	go func() {
		<-release
		a.done()
		a.done()
	}()
	if left := a.wait(time.Millisecond); left != 2 {
		t.Fatalf("two calls aside, wait timed out: reported %d, want 2", left)
	}
	close(release)
	if left := a.wait(time.Minute); left != 0 {
		t.Fatalf("after both ended: wait reported %d", left)
	}
}
