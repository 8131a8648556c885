package sip

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// pickupHeader carries a pickup grant from the node a picker's phone
// uses to the node holding the ringing call (pickuppeer.go). It never
// leaves the nodes: the receiving node removes it before the INVITE goes
// on to a phone.
const pickupHeader = "X-Ucgrid-Pickup"

// pickupGrantTTL bounds how long a grant is accepted after it was made:
// it travels one hop between nodes, at once.
const pickupGrantTTL = 30 * time.Second

// pickupGrant is what the picker's node vouches for: the picker's line
// (authenticated there) may pick up call, ringing on line, with the
// INVITE whose Call-ID is invite, until expires.
type pickupGrant struct {
	picker  string // the picker's line number
	invite  string // the Call-ID of the picker's INVITE
	call    string // the ringing call's Call-ID
	line    string // the line it rings on
	expires time.Time
}

// pickupDomain separates the grants' MAC from the flow tokens', which
// share the key (Config.FlowKey): one kind cannot pass for the other.
const pickupDomain = "ucgrid sip pickup grant v1"

// pickupToken is g as a header value only a node holding key can make:
// its fields, base64url, and an HMAC-SHA256 of them (128 bits).
func pickupToken(key []byte, g pickupGrant) string {
	fields := []string{g.picker, g.invite, g.call, g.line, strconv.FormatInt(g.expires.Unix(), 10)}
	enc := base64.RawURLEncoding
	out := make([]string, 0, len(fields)+1)
	for _, f := range fields {
		out = append(out, enc.EncodeToString([]byte(f)))
	}
	return strings.Join(append(out, enc.EncodeToString(pickupMAC(key, fields))), ".")
}

func pickupMAC(key []byte, fields []string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(pickupDomain))
	for _, f := range fields {
		m.Write([]byte{0})
		m.Write([]byte(f))
	}
	return m.Sum(nil)[:flowTokenMAC]
}

// verifyPickupToken returns the grant a token holds when key made it,
// it is for the INVITE with Call-ID invite, and it has not expired at
// now; false otherwise.
func verifyPickupToken(key []byte, token, invite string, now time.Time) (pickupGrant, bool) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 6 {
		return pickupGrant{}, false
	}
	enc := base64.RawURLEncoding
	fields := make([]string, 5)
	for i := range fields {
		b, err := enc.DecodeString(parts[i])
		if err != nil {
			return pickupGrant{}, false
		}
		fields[i] = string(b)
	}
	mac, err := enc.DecodeString(parts[5])
	if err != nil || !hmac.Equal(mac, pickupMAC(key, fields)) {
		return pickupGrant{}, false
	}
	exp, err := strconv.ParseInt(fields[4], 10, 64)
	if err != nil || now.Unix() > exp || fields[1] != invite || fields[0] == "" || fields[2] == "" || fields[3] == "" {
		return pickupGrant{}, false
	}
	return pickupGrant{picker: fields[0], invite: fields[1], call: fields[2], line: fields[3], expires: time.Unix(exp, 0)}, true
}
