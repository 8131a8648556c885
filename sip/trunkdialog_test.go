package sip

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// traced is the message trace of a SIPp run (-trace_msg), split into
// messages.
func traced(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range regexp.MustCompile(`(?m)^-{10,}.*$`).Split(string(b), -1) {
		// A block: the "UDP message received/sent" line, then the message.
		if i := strings.Index(block, "\n\n"); i >= 0 && strings.Contains(block[:i], "message received") {
			out = append(out, strings.TrimSpace(block[i:]))
		}
	}
	return out
}

// A call out through a trunk shows the upstream the caller's public number
// as From; the URIs of a dialog do not change inside it (RFC 3261
// §12.2.1.1), so every message of the dialog keeps, on each side, the
// URIs that side knows: the upstream sees the public number in the
// caller's ACK and BYE too, the caller sees its own From in the answers,
// and in the upstream's BYE as To.
func TestOutbound_EachSideKeepsItsURIsThroughTheDialog(t *testing.T) {
	for _, hangsUp := range []string{"caller", "carrier"} {
		t.Run(hangsUp+" hangs up", func(t *testing.T) {
			e := newEnv(t)
			carrierScenario, callerScenario := "uas_carrier.xml", "uac_call.xml"
			if hangsUp == "carrier" {
				carrierScenario, callerScenario = "uas_carrier_hangs_up.xml", "uac_wait_bye.xml"
			}
			up := startCarrier(t, e, carrierScenario)
			outboundSetup(e, up.run.port, nil)
			trace := filepath.Join(t.TempDir(), "caller.log")
			args := append([]string{"-trace_msg", "-message_file", trace}, callerArgs("1001", "a-pw", "089555123", e)...)
			startSIPp(t, e, callerScenario, args...).wait(t, 30*time.Second)
			up.run.wait(t, 30*time.Second)

			public := regexp.MustCompile(`<sip:\+4989123100@carrier\.example>;tag=`)
			own := regexp.MustCompile(`<sip:1001@[^>]*>;tag=`)
			var seen int
			for _, msg := range traced(t, up.trace) {
				first := strings.SplitN(msg, "\n", 2)[0]
				if strings.HasPrefix(first, "INVITE ") && !strings.Contains(msg, "Authorization:") {
					continue // the challenged INVITE: checked elsewhere
				}
				// The caller's requests come From its public number; the
				// answer to the carrier's own BYE goes To it.
				name := "From"
				if strings.HasPrefix(first, "SIP/2.0") {
					name = "To"
				}
				if v := header(msg, name); !public.MatchString(v) {
					t.Errorf("the carrier got %q with %s %q; want the caller's public number", first, name, v)
				}
				seen++
			}
			if seen < 3 {
				t.Fatalf("the carrier's trace holds %d messages of the call, want INVITE, ACK and BYE or its 200", seen)
			}
			seen = 0
			for _, msg := range traced(t, trace) {
				first := strings.SplitN(msg, "\n", 2)[0]
				name := "From" // the answers to the caller's requests
				if strings.HasPrefix(first, "BYE ") {
					name = "To" // the carrier's BYE
				}
				if strings.HasPrefix(first, "SIP/2.0 407") || strings.HasPrefix(first, "SIP/2.0 100") {
					continue // ucgrid's own
				}
				if v := header(msg, name); !own.MatchString(v) {
					t.Errorf("the caller got %q with %s %q; want its own URI", first, name, v)
				}
				seen++
			}
			if seen < 2 {
				t.Fatalf("the caller's trace holds %d messages from the carrier's side, want the answer and the BYE or its 200", seen)
			}
		})
	}
}
