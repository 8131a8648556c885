package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// completedLinger is how long a transaction that has its final answer
// stays to absorb retransmissions: of the request (its final response is
// sent again), of a 2xx or of a non-2xx final response (ACKed again).
// RFC 3261 keeps most of them 64*T1 = 32 s on UDP (Timers D, J, L, M);
// Kamailio's tm keeps a completed transaction 5 s (its wt_timer), and so
// does this server. A retransmission only comes after the answer to it was
// lost; 5 s covers the retransmission intervals of T1 and T2 several times
// over. What comes later is handled as a stray: a 2xx of a call still
// known goes on to the caller (relayAnswer), a repeated BYE of an ended
// dialog gets 481.
//
// Why it matters: every finished transaction holds its request and
// responses until it ends. At 700 group calls/s, 32 s of them were ~8 KB
// per call and ~180 MB of live heap after ten seconds, most of the node's
// page faults and garbage-collector marking (docs/benchmarks.md, "How long
// a finished transaction stays").
const completedLinger = 5 * time.Second

// The timers are sipgo's package variables; they are set once, before any
// transaction exists. Timer I (an INVITE answered with an error, after the
// ACK) and K (a non-INVITE client transaction) are T4 = 5 s already.
func init() {
	sip.Timer_D = min(sip.Timer_D, completedLinger)
	sip.Timer_J = min(sip.Timer_J, completedLinger)
	sip.Timer_L = min(sip.Timer_L, completedLinger)
	sip.Timer_M = min(sip.Timer_M, completedLinger)
}
