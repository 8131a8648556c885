package sip

import (
	"slices"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/linestate"
)

// Transfer with SIPp phones (docs/sip.md, "Transfer"): every message of
// the transfer passes through the node.

// Blind transfer: alice (1001) calls bob (2001); bob REFERs her to carol
// (3001); the REFER and both NOTIFYs (sipfrag 100, 200) pass through the
// node in both directions; alice's new INVITE reaches carol with
// Referred-By and Record-Route; bob's BYE ends the first call. Both
// calls' line reports say who transferred to whom.
func TestSIPp_BlindTransferWithNotify(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	bob := startSIPp(t, e, "uas_transferor.xml", "-key", "self", "2001", "-key", "xfer", "3001@"+testDomain)
	carol := startSIPp(t, e, "uas_referred.xml")
	e.bindSIPp("2001", bob)
	e.bindSIPp("3001", carol)
	first := startSIPp(t, e, "uac_transferee.xml", callerArgs("1001", "a-pw", "2001", e)...)
	eventually(t, 10*time.Second, "REFER accepted", func() bool {
		return slices.Contains(e.be.transferEvents("1001"), "2001>3001")
	})
	second := startSIPp(t, e, "uac_referred.xml", append(callerArgs("1001", "a-pw", "3001", e), "-key", "referrer", "2001")...)
	for _, r := range []*sippRun{first, bob, second, carol} {
		r.wait(t, 30*time.Second)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
	if got := e.be.transferEvents("2001"); !slices.Contains(got, "2001>3001") {
		t.Errorf("bob's line: transfers %v", got)
	}
	if got := e.be.transferEvents("3001"); !slices.Contains(got, "2001>3001") {
		t.Errorf("carol's line: transfers %v", got)
	}
}

// Attended transfer: bob (2001) consults carol (3001), then REFERs alice
// to sip:3001@…?Replaces=<the consultation>; the node relays that REFER,
// and alice's INVITE with Replaces for the connected consultation call is
// routed to carol's phone (before issue 18 it was taken for a pickup and
// refused 404).
func TestSIPp_AttendedTransferReplacesConnectedCall(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	e.user("bob2", "2002", "b2-pw") // bob's second line, for the consultation
	const consult = "consult-call-1"
	replaces := consult + ";to-tag=ctag;from-tag=consultfrom"
	carol := startSIPp(t, e, "uas_replaced.xml", "-m", "2")
	e.bindSIPp("3001", carol)
	consultation := startSIPp(t, e, "uac_consult.xml", append(callerArgs("2002", "b2-pw", "3001", e), "-cid_str", consult, "-d", "3000")...)
	eventually(t, 10*time.Second, "consultation connected", func() bool {
		return slices.Contains(e.be.phases("3001"), linestate.PhaseAnswered)
	})
	bob := startSIPp(t, e, "uas_transferor.xml", "-key", "self", "2001",
		"-key", "xfer", "3001@"+testDomain+"?Replaces="+urlEscapeReplaces(replaces))
	e.bindSIPp("2001", bob)
	first := startSIPp(t, e, "uac_transferee.xml", callerArgs("1001", "a-pw", "2001", e)...)
	eventually(t, 10*time.Second, "REFER accepted", func() bool {
		return slices.Contains(e.be.transferEvents("1001"), "2001>3001")
	})
	if e.srv.dialogParty(consult, "ctag") != "3001" {
		t.Fatal("the consultation call is not connected when the transferee's INVITE goes out")
	}
	second := startSIPp(t, e, "uac_replaces.xml", append(callerArgs("1001", "a-pw", "3001", e),
		"-key", "referrer", "2001", "-key", "replaces", replaces)...)
	for _, r := range []*sippRun{first, bob, second, consultation, carol} {
		r.wait(t, 30*time.Second)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
}

// A REFER to a number outside the directory, or to a directory number at
// another host, is answered 403 by the node: the caller never sees it
// (its scenario fails on any REFER) and carol's phone never rings.
func TestSIPp_ReferRefused(t *testing.T) {
	e := newEnv(t)
	e.user("alice", "1001", "a-pw")
	e.user("bob", "2001", "b-pw")
	e.user("carol", "3001", "c-pw")
	carol := registered(t, e, "3001", "c-pw")
	bob := startSIPp(t, e, "uas_refer_refused.xml", "-key", "self", "2001",
		"-key", "xfer", "0049301234567@"+testDomain, "-key", "xfer2", "3001@evil.example")
	e.bindSIPp("2001", bob)
	alice := startSIPp(t, e, "uac_wait_bye.xml", callerArgs("1001", "a-pw", "2001", e)...)
	for _, r := range []*sippRun{alice, bob} {
		r.wait(t, 30*time.Second)
	}
	eventually(t, 5*time.Second, "calls end", func() bool { return e.srv.calls.len() == 0 })
	if n := len(carol.incoming); n != 0 || len(e.be.phases("3001")) != 0 {
		t.Errorf("carol's phone rang (%d INVITEs, line reports %v)", n, e.be.phases("3001"))
	}
	if got := e.be.transferEvents("1001"); len(got) != 0 {
		t.Errorf("refused transfers reported: %v", got)
	}
}

// urlEscapeReplaces escapes a Replaces value for a Refer-To URI header
// (RFC 3891 §6.1: ; and = escaped).
func urlEscapeReplaces(v string) string {
	out := make([]byte, 0, len(v)*2)
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ';':
			out = append(out, "%3B"...)
		case '=':
			out = append(out, "%3D"...)
		case '@':
			out = append(out, "%40"...)
		default:
			out = append(out, v[i])
		}
	}
	return string(out)
}
