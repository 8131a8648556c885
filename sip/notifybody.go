package sip

import (
	"bytes"
	"encoding/xml"
	"strconv"

	"github.com/ucgrid/ucgrid/actors/actorspb"
)

// NOTIFY bodies. Both are built from views the hub already filtered by
// the subscriber's rights; they never add anything the view does not
// show.

// pidfBody is a PIDF document (RFC 3863) with RPID (RFC 4480) details:
//
//	offline   → basic closed
//	available → basic open
//	away      → basic open, activity away
//	busy      → basic open, activity busy
//	dnd       → basic open, activity busy and other "dnd"
//
// idle adds user-input idle; the note (only in views of viewers holding
// see_note) is the tuple's note.
func pidfBody(entity string, v *actorspb.PresenceView) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="`)
	escape(&b, entity)
	b.WriteString("\">\n")
	basic := "open"
	if v.GetState() == "offline" || v.GetState() == "" {
		basic = "closed"
	}
	b.WriteString(` <tuple id="ucgrid"><status><basic>` + basic + `</basic></status>`)
	if n := v.GetNote(); n != "" {
		b.WriteString(`<note>`)
		escape(&b, n)
		b.WriteString(`</note>`)
	}
	b.WriteString("</tuple>\n")
	var activities string
	switch v.GetState() {
	case "away":
		activities = `<rpid:away/>`
	case "busy":
		activities = `<rpid:busy/>`
	case "dnd":
		activities = `<rpid:busy/><rpid:other>dnd</rpid:other>`
	}
	b.WriteString(` <dm:person id="p">`)
	if activities != "" {
		b.WriteString(`<rpid:activities>` + activities + `</rpid:activities>`)
	}
	if v.GetIdle() {
		b.WriteString(`<rpid:user-input>idle</rpid:user-input>`)
	}
	b.WriteString("</dm:person>\n</presence>\n")
	return b.Bytes()
}

// dialogInfoBody is a full dialog-info document (RFC 4235) of a line:
// one dialog per call, early while it rings, confirmed once answered;
// an idle line has none. The remote identity is there only when the view
// shows it (the line's incoming/outgoing right). Dialog ids are the
// line number and the call's position: each document is full state, so
// a BLF key only reads whether any dialog is early or confirmed.
func dialogInfoBody(entity, domain string, version int, v *actorspb.LineView) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="` + strconv.Itoa(version) + `" state="full" entity="`)
	escape(&b, entity)
	b.WriteString("\">\n")
	calls := v.GetCalls()
	if len(calls) == 0 && (v.GetState() == "ringing" || v.GetState() == "busy") {
		calls = []*actorspb.CallView{{Direction: "in", Answered: v.GetState() == "busy"}}
	}
	local := "sip:" + v.GetNumber() + "@" + domain
	for i, c := range calls {
		dir := "recipient"
		if c.GetDirection() == "out" {
			dir = "initiator"
		}
		state := "early"
		if c.GetAnswered() {
			state = "confirmed"
		}
		b.WriteString(` <dialog id="`)
		escape(&b, v.GetNumber()+"-"+strconv.Itoa(i+1))
		b.WriteString(`" direction="` + dir + `"><state>` + state + `</state>`)
		if r := c.GetRemote(); r != "" {
			uri := "sip:" + r + "@" + domain
			b.WriteString(`<remote><identity>`)
			escape(&b, uri)
			b.WriteString(`</identity><target uri="`)
			escape(&b, uri)
			b.WriteString(`"/></remote>`)
		}
		b.WriteString(`<local><identity>`)
		escape(&b, local)
		b.WriteString(`</identity><target uri="`)
		escape(&b, local)
		b.WriteString("\"/></local></dialog>\n")
	}
	forwardingElement(&b, v)
	b.WriteString("</dialog-info>\n")
	return b.Bytes()
}

// forwardingNS is the namespace of forwardingElement.
const forwardingNS = "urn:ucgrid:xml:ns:forwarding"

// forwardingElement adds the line's forwarding, as far as the view shows
// it, to a dialog-info document: RFC 4235 has no element for it, and its
// schema lets a document carry elements of other namespaces after the
// dialogs, which subscribers that do not know them ignore. Only the
// forwards that are on are listed; target only when the view shows the
// number (see_forwarding_number):
//
//	<fwd:forwarding xmlns:fwd="urn:ucgrid:xml:ns:forwarding">
//	  <fwd:unconditional target="0171…"/><fwd:busy/>
//	  <fwd:no-answer seconds="20"/></fwd:forwarding>
func forwardingElement(b *bytes.Buffer, v *actorspb.LineView) {
	if !v.GetSeesForwarding() || !v.GetForwardingEnabled() && !v.GetForwardingOnBusy() && !v.GetForwardingOnNoAnswer() {
		return
	}
	b.WriteString(` <fwd:forwarding xmlns:fwd="` + forwardingNS + `">`)
	forward := func(name string, on bool, target string, extra string) {
		if !on {
			return
		}
		b.WriteString(`<fwd:` + name)
		if target != "" {
			b.WriteString(` target="`)
			escape(b, target)
			b.WriteString(`"`)
		}
		b.WriteString(extra + `/>`)
	}
	forward("unconditional", v.GetForwardingEnabled(), v.GetForwardingDestination(), "")
	forward("busy", v.GetForwardingOnBusy(), v.GetForwardingBusyDestination(), "")
	secs := ""
	if n := v.GetForwardingNoAnswerS(); n > 0 {
		secs = ` seconds="` + strconv.Itoa(int(n)) + `"`
	}
	forward("no-answer", v.GetForwardingOnNoAnswer(), v.GetForwardingNoAnswerDestination(), secs)
	b.WriteString("</fwd:forwarding>\n")
}

func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // writing to a bytes.Buffer never fails
}
