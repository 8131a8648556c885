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
	b.WriteString("</dialog-info>\n")
	return b.Bytes()
}

func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // writing to a bytes.Buffer never fails
}
