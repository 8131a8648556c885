package persistence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// BenchmarkApply measures durable writes through Raft on one node: each
// op is a PutUser acknowledged after the log fsync and the FSM apply.
// It reports writes/s and the p50/p99 latency of one Apply.
func BenchmarkApply(b *testing.B) {
	for _, writers := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchApply(b, writers, (*Node).Apply) })
	}
}

// BenchmarkApplyGrouped is BenchmarkApply through group commit: the
// writers' commands share Raft entries.
func BenchmarkApplyGrouped(b *testing.B) {
	for _, writers := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchApply(b, writers, (*Node).ApplyGrouped) })
	}
}

func benchApply(b *testing.B, writers int, apply func(*Node, context.Context, *dirpb.Command) (uint64, error)) {
	n := openNode(b, Config{Dir: b.TempDir(), NodeID: "bench", ClusterID: "bench", Logger: testLogger(b)})
	ctx := context.Background()
	var next atomic.Int64
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU(b)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				t0 := time.Now()
				if _, err := apply(n, ctx, putUser(fmt.Sprintf("user-%d", i))); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU(b)-cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(percentile(all, 0.50).Seconds()*1e3, "p50-ms")
	b.ReportMetric(percentile(all, 0.99).Seconds()*1e3, "p99-ms")
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// BenchmarkRead measures point reads and one index scan on a directory of
// 10,000 users in 100 groups.
func BenchmarkRead(b *testing.B) {
	h := newHarness(b)
	const users, groups = 10000, 100
	for g := range groups {
		var members []string
		for u := g * (users / groups); u < (g+1)*(users/groups); u++ {
			id := fmt.Sprintf("user-%d", u)
			h.mustApply(putUser(id))
			members = append(members, id)
		}
		h.mustApply(putGroup(group(fmt.Sprintf("group-%d", g), "", members...)))
	}
	b.Run("User", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			if _, err := h.s.User(fmt.Sprintf("user-%d", rng.IntN(users))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GroupsOf", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			if ms, err := h.s.GroupsOf(fmt.Sprintf("user-%d", rng.IntN(users))); err != nil || len(ms) != 1 {
				b.Fatal(ms, err)
			}
		}
	})
}

// BenchmarkApplyJournalBatch measures the FSM's side of the journal
// writer's group commit: each op is one Batch entry of 256 journal entries
// of three owners (a ring_all group's lines), the ids derived from call ids
// as actors/journal does; after the first ops the store already holds the
// entries of many calls, as a node's does after minutes of traffic.
func BenchmarkApplyJournalBatch(b *testing.B) {
	h := newHarness(b)
	owners := []string{"u201", "u202", "u203"}
	for _, o := range owners {
		h.mustApply(putUser(o))
	}
	const perBatch = 256
	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	for b.Loop() {
		cmds := make([]*dirpb.Command, perBatch)
		for i := range cmds {
			n++
			cmds[i] = appendJournal(&dirpb.JournalEntry{
				Id: fmt.Sprintf("c%024x", rng.Uint64()), Owner: owners[n%len(owners)], Line: "20" + fmt.Sprint(1+n%3),
				Direction: "in", RemoteNumber: "+4930123456", StartUnix: int64(1_700_000_000 + n/1000), Outcome: "answered",
				Group: "support", CallId: fmt.Sprintf("call-%d", n), RingS: 1,
			})
		}
		data := mustMarshal(batchOf(cmds...))
		h.index++
		resp := h.f.ApplyBatch([]*raft.Log{{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}})
		if res, ok := resp[0].(batchResults); !ok || res[0] != nil {
			b.Fatalf("batch: %v", resp[0])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/entry")
}
