package sip

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/linestate"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/persistence"
)

// Feature codes a phone dials to change its own line's forwarding and its
// owner's availability for group calls (docs/sip.md, "Feature codes"):
//
//	*21*NUMBER#   unconditional forwarding on     #21#   off
//	*67*NUMBER#   forwarding on busy on           #67#   off
//	*61*NUMBER#   forwarding on no answer on      #61#   off
//	*61*NUMBER*SECONDS#  … after SECONDS
//	*44#          log in to all one's groups      #44#   log out of all
//	*44*GROUP#    log in to the group numbered GROUP; #44*GROUP# log out
//
// The trailing # is optional (many phones use # as their "send" key and
// do not send it). Each is answered with a final response and no dialog:
// 480 with a reason phrase saying what is now set when it worked.
const (
	codeUnconditional = "21"
	codeBusy          = "67"
	codeNoAnswer      = "61"
	codeGroups        = "44"
)

// featureCodeSyntax matches a dialled string that is one of the feature
// codes (sign, code, up to two *-separated arguments); what the
// arguments hold is checked by featureCode.
var featureCodeSyntax = regexp.MustCompile(`^([*#])(21|67|61|44)(?:\*([^*#]*))?(?:\*([^*#]*))?#?$`)

// featureCode is one parsed feature code.
type featureCode struct {
	on   bool   // * (on, log in) rather than # (off, log out)
	code string // codeUnconditional, …
	arg  string // the number (forwarding destination, group number)
	secs string // *61's optional seconds
}

// parseFeatureCode recognizes a feature code in the dialled user part
// (percent-decoded: phones send # as %23). ok is false for anything else,
// which is then routed as a number.
func parseFeatureCode(user string) (featureCode, bool) {
	if !strings.HasPrefix(user, "*") && !strings.HasPrefix(user, "#") && !strings.HasPrefix(user, "%23") {
		return featureCode{}, false
	}
	dialled, err := url.PathUnescape(user)
	if err != nil {
		return featureCode{}, false
	}
	m := featureCodeSyntax.FindStringSubmatch(dialled)
	if m == nil {
		return featureCode{}, false
	}
	return featureCode{on: m[1] == "*", code: m[2], arg: m[3], secs: m[4]}, true
}

// Answers to feature codes. A final response without a dialog: a 200
// would need an SDP answer and a BYE. 480 is shown by phones with its
// reason phrase and, unlike 486, does not start a phone's busy redial;
// unlike 6xx it is not shown as the callee declining.
const statusFeatureDone = sip.StatusTemporarilyUnavailable

// runFeatureCode carries out fc for the calling line and answers the
// caller. It writes nothing unless everything checked out.
func (c *call) runFeatureCode(fc featureCode) {
	status, reason := c.featureCode(fc)
	outcome := "done"
	if status != statusFeatureDone {
		outcome = "rejected"
	}
	c.s.m.calls.WithLabelValues(c.kind, outcome).Inc()
	c.fail(status, reason, nil)
	c.end()
}

// featureCode returns the final status and reason phrase for fc.
func (c *call) featureCode(fc featureCode) (int, string) {
	if c.caller.line == nil {
		return sip.StatusForbidden, "Feature Codes Need A Line"
	}
	if fc.code == codeGroups {
		return c.groupsCode(fc)
	}
	return c.forwardingCode(fc)
}

// forwardingCode sets or clears one forward of the calling line, under
// the rule of PUT /v1/lines/{number}/forwarding (linestate.SetForwarding)
// with the caller's rights: the caller is the line's owner (their digest
// credentials placed the call), who holds every right over their lines.
func (c *call) forwardingCode(fc featureCode) (int, string) {
	line, err := c.s.cfg.Store.Line(c.caller.line.GetNumber())
	if err != nil {
		return sip.StatusServiceUnavailable, "Directory Unavailable"
	}
	f := dirrights.Forwarding(line)
	if fc.on && fc.arg == "" {
		return sip.StatusAddressIncomplete, "Forwarding Number Missing"
	}
	if !fc.on && (fc.arg != "" || fc.secs != "") {
		return sip.StatusAddressIncomplete, "No Number After #" + fc.code
	}
	if fc.secs != "" && fc.code != codeNoAnswer {
		return sip.StatusAddressIncomplete, "Seconds Only With *61"
	}
	what := map[string]string{codeUnconditional: "Forwarding", codeBusy: "Busy Forwarding", codeNoAnswer: "No-Answer Forwarding"}[fc.code]
	var set []string // the forwards this code changes, the others stay as stored
	switch fc.code {
	case codeUnconditional:
		f.Enabled, f.Destination, set = fc.on, fc.arg, []string{"unconditional"}
	case codeBusy:
		f.BusyDestination, set = fc.arg, []string{"busy"}
	case codeNoAnswer:
		f.NoAnswerDestination, f.NoAnswerS, set = fc.arg, 0, []string{"no_answer", "no_answer_s"}
		if fc.secs != "" {
			n, err := strconv.Atoi(fc.secs)
			if err != nil || n < 1 || n > linestate.MaxNoAnswerS {
				return sip.StatusAddressIncomplete, "Bad No-Answer Seconds"
			}
			f.NoAnswerS = n
		}
	}
	model := linestate.Line{Number: line.GetNumber(), Kind: dirrights.LineKind(line)}
	if _, err := linestate.SetForwarding(model, f, rights.All); err != nil {
		if errors.Is(err, linestate.ErrForwardToSelf) {
			return sip.StatusAddressIncomplete, "Cannot Forward To Itself"
		}
		return sip.StatusAddressIncomplete, "Bad Forwarding Number"
	}
	if fc.on {
		// a destination the line's owner could not dial (forwarding follows
		// their class of service) is refused now, not at the first call
		switch status, reason := c.s.mayDial(line, fc.arg); status {
		case 0:
		case sip.StatusNotFound:
			return status, "Forwarding Number Not Found"
		default:
			return status, reason
		}
	}
	ctx, cancel := c.s.backendCtx()
	defer cancel()
	if err := c.s.cfg.Backend.SetLineForwarding(ctx, line.GetNumber(), f, set...); err != nil {
		c.s.log.Warn("sip: feature code: set forwarding", "line", line.GetNumber(), "err", err)
		return sip.StatusServiceUnavailable, "Directory Unavailable"
	}
	if !fc.on {
		return statusFeatureDone, what + " Off"
	}
	return statusFeatureDone, what + " On " + fc.arg
}

// groupsCode logs the line's owner in to or out of group calls: all
// their groups, or the one whose call number is the argument. Only the
// member themself acts here, which is always allowed.
func (c *call) groupsCode(fc featureCode) (int, string) {
	user := c.caller.line.GetOwner()
	verb := map[bool]string{true: "Logged In", false: "Logged Out"}[fc.on]
	if fc.secs != "" {
		return sip.StatusAddressIncomplete, "Bad Group Number"
	}
	var groups []string
	name := "All Groups"
	if fc.arg != "" {
		g, err := c.s.cfg.Store.GroupByNumber(fc.arg)
		if errors.Is(err, persistence.ErrNotFound) {
			return sip.StatusNotFound, "No Group " + sanitizeReason(fc.arg)
		}
		if err != nil {
			return sip.StatusServiceUnavailable, "Directory Unavailable"
		}
		groups, name = []string{g.GetId()}, "Group "+fc.arg
	} else {
		ms, err := c.s.cfg.Store.GroupsOf(user)
		if err != nil {
			return sip.StatusServiceUnavailable, "Directory Unavailable"
		}
		if len(ms) == 0 {
			return sip.StatusNotFound, "Not In Any Group"
		}
	}
	ctx, cancel := c.s.backendCtx()
	defer cancel()
	err := c.s.cfg.Backend.SetMemberAvailability(ctx, user, groups, fc.on)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return sip.StatusForbidden, "Not A Member Of Group " + fc.arg
	case err != nil:
		c.s.log.Warn("sip: feature code: set availability", "err", err)
		return sip.StatusServiceUnavailable, "Directory Unavailable"
	}
	return statusFeatureDone, verb + " " + name
}

// sanitizeReason keeps a dialled string fit for a reason phrase (the
// syntax already allows only what a phone can dial, minus * and #).
func sanitizeReason(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}
