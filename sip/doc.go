// Package sip is ucgrid's SIP front end, built on emiago/sipgo: the
// registrar (digest auth, MD5 and SHA-256), the stateful proxy that forks
// calls to lines and call groups (DND answering direct calls 486), call
// pickup (of a call ringing through any node: the line grains say which
// node holds it), blind and attended transfer (REFER checked before it is
// relayed, Replaces of a connected call routed to the phone holding it:
// transfer.go), the phones' feature codes (forwarding, group login), and
// presence and dialog (BLF) subscriptions served from the node's hub,
// over UDP, TCP and TLS.
// It relays in-dialog requests only for dialogs it carries (no open
// relay), throttles password guessing per address, per (line, address)
// and per line (internal/throttle, as the API does), and guards TCP/TLS connections (per-address cap, idle
// and message timeouts). It names, in Via, Record-Route and its own
// Contact, the address each peer reaches it on (addr.go: the advertise
// address, the bound one, or on a wildcard bind the connection's or the
// route's local address). Phones behind NAT are reached over the flow
// they registered from (RFC 3581 rport/received, keep-alives, a Path
// with a signed flow token across nodes). Start a Server with a Config
// naming the node's directory Store and a Backend that reaches the
// grains; docs/sip.md describes the behaviour.
//
// Past its capacity the node refuses new work — a new INVITE,
// REGISTER, SUBSCRIBE — with 503 and Retry-After at once and goes on
// serving the calls it took (overload.go: bounds on calls being set up
// and transactions in progress, the UDP receive queue's age from the
// kernel's stamps, goroutine scheduling latency for TCP and TLS); over
// UDP the refusal is made on the raw datagram before sipgo parses it
// (edgeudp.go).
// Server.Overload reports the state for upstream overload control.
//
// Numbers beyond the directory leave through trunks (outbound.go): the
// dial plan (package dialplan) picks the trunk, the caller's class of
// service allows it or the call gets 403, the upstream's digest
// challenge is answered with the trunk's credentials (trunktx.go), and
// an upstream's overload is respected: RFC 7339 feedback in its Via
// drops the share of new calls it asks for, a 503 with Retry-After
// holds new calls back (overloadcontrol.go, which also gives RFC 7339
// clients this node's own reduction). One node keeps the
// trunks' registrations at their upstreams (trunkreg.go,
// Config.TrunkRegistrar).
//
// Lock order: call.mu before branch.mu; callTable.mu is never held while
// taking either. trunkTx.mu and branch.mu are never held together;
// trunkRegs.mu before regLoop.mu; overloadControl.mu and
// upstreamLoad.mu are never held with another lock.
package sip
