package persistence

import (
	"testing"
)

func TestFeed_SlowSubscriberGetsResetNotBlocking(t *testing.T) {
	f := newFeed()
	ch, cancel := f.subscribe(2)
	defer cancel()
	for i := uint64(1); i <= 10; i++ {
		f.publish([]Change{{Index: i, Kind: KindUser}}) // must never block
	}
	var got []Change
	for len(ch) > 0 {
		got = append(got, <-ch)
	}
	if len(got) != 3 || got[0].Index != 1 || got[1].Index != 2 || !got[2].Reset || got[2].Index != 3 {
		t.Fatalf("got %+v, want changes 1 and 2 then a Reset at 3", got)
	}
	if f.overflows.Load() != 1 {
		t.Errorf("overflows = %d, want 1", f.overflows.Load())
	}
	// Once drained, delivery resumes.
	f.publish([]Change{{Index: 11}})
	if c := <-ch; c.Index != 11 || c.Reset {
		t.Errorf("after drain got %+v", c)
	}
}

func TestFeed_EveryChangeDeliveredOrFollowedByReset(t *testing.T) {
	f := newFeed()
	ch, cancel := f.subscribe(3)
	defer cancel()
	const n = 200
	for i := uint64(1); i <= n; i++ {
		f.publish([]Change{{Index: i}})
		if i%7 == 0 { // the subscriber reads now and then
			for len(ch) > 1 {
				checkNotAfterReset(t, <-ch)
			}
		}
	}
	last := Change{}
	for len(ch) > 0 {
		last = <-ch
	}
	if last.Index != n && !last.Reset {
		t.Errorf("last change %+v: change %d neither delivered nor covered by a Reset", last, n)
	}
}

func checkNotAfterReset(t *testing.T, c Change) {
	t.Helper()
	if c.Reset && c.ID != "" {
		t.Errorf("Reset carries fields: %+v", c)
	}
}

func TestFeed_CancelAndCloseCloseChannels(t *testing.T) {
	f := newFeed()
	ch1, cancel1 := f.subscribe(1)
	ch2, _ := f.subscribe(1)
	cancel1()
	cancel1() // twice is fine
	if _, ok := <-ch1; ok {
		t.Error("cancelled channel still open")
	}
	f.close()
	if _, ok := <-ch2; ok {
		t.Error("channel open after close")
	}
	ch3, cancel3 := f.subscribe(1)
	defer cancel3()
	if _, ok := <-ch3; ok {
		t.Error("subscribe after close returned an open channel")
	}
}

func TestFeed_RestoreResetsEverySubscriber(t *testing.T) {
	f := newFeed()
	roomy, c1 := f.subscribe(4)
	defer c1()
	f.publish([]Change{{Index: 1}})
	tight, c2 := f.subscribe(1)
	defer c2()
	f.publish([]Change{{Index: 2}, {Index: 3}}) // tight: change 2, then a Reset
	f.reset(4)
	want := []Change{{Index: 1}, {Index: 2}, {Index: 3}, {Index: 4, Reset: true}}
	for i, w := range want {
		if c := <-roomy; c.Index != w.Index || c.Reset != w.Reset {
			t.Errorf("roomy[%d] = %+v, want %+v", i, c, w)
		}
	}
	if c := <-tight; c.Index != 2 {
		t.Errorf("tight first = %+v", c)
	}
	if c := <-tight; !c.Reset {
		t.Errorf("tight second = %+v, want a Reset", c)
	}
	if len(tight) != 0 {
		t.Errorf("tight has %d more queued; one Reset suffices", len(tight))
	}
}
