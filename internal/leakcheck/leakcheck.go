// Package leakcheck holds the goroutine-leak options of tests that run
// protoactor-go nodes.
package leakcheck

import "go.uber.org/goleak"

// Protoactor lists the goroutines protoactor-go leaves behind after a
// clean shutdown: log throttle timers (actor/throttler.go) that end by
// themselves after their period (1 s for dead letters, 60 s for gossip).
// The names differ with inlining, so every form seen is listed. Everything
// else — memberlist, remoting, our loops — must be gone.
func Protoactor() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewThrottle.func1.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewThrottleWithLogger.func1.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
	}
}
