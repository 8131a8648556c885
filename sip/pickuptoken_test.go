package sip

import (
	"strings"
	"testing"
	"time"
)

func TestPickupToken_HoldsOnlyForItsInviteKeyAndTime(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_700_000_000, 0)
	g := pickupGrant{picker: "5001", invite: "inv-1@phone", call: `"odd";<call>@x`, line: "2001", expires: now.Add(pickupGrantTTL)}
	tok := pickupToken(key, g)
	if strings.ContainsAny(tok, " ;,<>\"@") {
		t.Fatalf("token %q is not a plain header token", tok)
	}
	got, ok := verifyPickupToken(key, tok, "inv-1@phone", now)
	if !ok || got != g {
		t.Fatalf("verify: %+v %v, want %+v", got, ok, g)
	}
	parts := strings.Split(tok, ".")
	swapped := strings.Join([]string{parts[0], parts[1], parts[2], parts[0], parts[4], parts[5]}, ".")
	for name, tc := range map[string]struct {
		key    []byte
		token  string
		invite string
		at     time.Time
	}{
		"another key":     {[]byte("another key entirely, 32 bytes!!"), tok, "inv-1@phone", now},
		"another INVITE":  {key, tok, "inv-2@phone", now},
		"expired":         {key, tok, "inv-1@phone", now.Add(pickupGrantTTL + time.Second)},
		"a field changed": {key, swapped, "inv-1@phone", now},
		"truncated":       {key, tok[:len(tok)-3], "inv-1@phone", now},
		"a flow token":    {key, flowToken(key, "udp:10.0.0.1:5060", "inv-1@phone"), "inv-1@phone", now},
		"empty":           {key, "", "", now},
		"too many parts":  {key, tok + ".AA", "inv-1@phone", now},
	} {
		t.Run(name, func(t *testing.T) {
			if got, ok := verifyPickupToken(tc.key, tc.token, tc.invite, tc.at); ok {
				t.Fatalf("accepted: %+v", got)
			}
		})
	}
}

func FuzzVerifyPickupToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	f.Add(pickupToken(key, pickupGrant{picker: "1", invite: "i", call: "c", line: "2", expires: time.Unix(2e9, 0)}), "i")
	f.Add("....", "")
	f.Fuzz(func(t *testing.T, token, invite string) {
		g, ok := verifyPickupToken(key, token, invite, time.Unix(1e9, 0))
		if ok && (g.invite != invite || g.picker == "" || g.call == "" || g.line == "") {
			t.Fatalf("accepted an incomplete grant %+v", g)
		}
	})
}
