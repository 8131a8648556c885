package api

import (
	"net"
	"regexp"
	"slices"

	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// outboundJSON is a trunk's upstream side. The password is write-only:
// answers say password_set instead, and a PUT without password keeps the
// stored one.
type outboundJSON struct {
	Host             string  `json:"host"`
	Port             int32   `json:"port"`
	Transport        string  `json:"transport"`
	Domain           string  `json:"domain"`
	Register         bool    `json:"register"`
	RegisterExpiresS int32   `json:"register_expires_s"`
	Username         string  `json:"username"`
	AuthUsername     string  `json:"auth_username"`
	Password         *string `json:"password,omitempty"`
	PasswordSet      bool    `json:"password_set"`
	CallerID         string  `json:"caller_id"`
	MainNumber       string  `json:"main_number"`
}

// hostPattern: a DNS name or an IPv4 address (IPv6 is checked apart).
var hostPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.?)*$`)

// e164Pattern is what a public number looks like: + and 2 to 15 digits.
var e164Pattern = regexp.MustCompile(`^\+[0-9]{2,15}$`)

func outboundOut(o *dirpb.TrunkOutbound) *outboundJSON {
	if o == nil {
		return nil
	}
	return &outboundJSON{Host: o.Host, Port: o.Port, Transport: o.Transport, Domain: o.Domain,
		Register: o.Register, RegisterExpiresS: o.RegisterExpiresS, Username: o.Username,
		AuthUsername: o.AuthUsername, PasswordSet: o.Password != "", CallerID: o.CallerId, MainNumber: o.MainNumber}
}

func checkHost(field, h string) error {
	if net.ParseIP(h) == nil && (len(h) > 253 || !hostPattern.MatchString(h)) {
		return invalid(field, "%q is not a host name or IP address", h)
	}
	return nil
}

// outboundRecord validates in and builds the record; old is the stored
// side (nil: none), whose password a PUT without one keeps, unless it
// names another upstream.
func outboundRecord(in *outboundJSON, old *dirpb.TrunkOutbound) (*dirpb.TrunkOutbound, error) {
	if in == nil {
		return nil, nil
	}
	if err := checkHost("outbound.host", in.Host); err != nil {
		return nil, err
	}
	if in.Domain != "" {
		if err := checkHost("outbound.domain", in.Domain); err != nil {
			return nil, err
		}
	}
	if in.Port < 0 || in.Port > 65535 {
		return nil, invalid("outbound.port", "%d is not 0 (the transport's default) to 65535", in.Port)
	}
	if !slices.Contains([]string{"", "udp", "tcp", "tls"}, in.Transport) {
		return nil, invalid("outbound.transport", "%q is not one of udp, tcp, tls", in.Transport)
	}
	if !slices.Contains([]string{"", "line", "trunk"}, in.CallerID) {
		return nil, invalid("outbound.caller_id", "%q is not one of line (the calling line's e164), trunk (main_number)", in.CallerID)
	}
	if in.MainNumber != "" && !e164Pattern.MatchString(in.MainNumber) {
		return nil, invalid("outbound.main_number", "%q is not + and 2 to 15 digits", in.MainNumber)
	}
	if in.CallerID == "trunk" && in.MainNumber == "" {
		return nil, invalid("outbound.main_number", "is needed with caller_id trunk")
	}
	if in.RegisterExpiresS < 0 || in.RegisterExpiresS > 86400 {
		return nil, invalid("outbound.register_expires_s", "%d is not 0 (600) to 86400", in.RegisterExpiresS)
	}
	for _, f := range []struct{ name, v string }{{"outbound.username", in.Username}, {"outbound.auth_username", in.AuthUsername}} {
		if err := checkText(f.name, f.v, maxText); err != nil {
			return nil, err
		}
	}
	o := &dirpb.TrunkOutbound{Host: in.Host, Port: in.Port, Transport: in.Transport, Domain: in.Domain,
		Register: in.Register, RegisterExpiresS: in.RegisterExpiresS, Username: in.Username,
		AuthUsername: in.AuthUsername, CallerId: in.CallerID, MainNumber: in.MainNumber, Password: old.GetPassword()}
	moved := old != nil && (old.GetHost() != in.Host || old.GetDomain() != in.Domain)
	switch {
	case in.Password != nil:
		if err := checkText("outbound.password", *in.Password, maxText); err != nil {
			return nil, err
		}
		o.Password = *in.Password
	case moved && old.GetPassword() != "":
		// The credentials go to no other upstream than the one they
		// were given for.
		return nil, invalid("outbound.password", "host or domain changed: give the password again")
	}
	if o.Register && (o.Username == "" || o.Password == "") {
		return nil, invalid("outbound.register", "needs username and password")
	}
	return o, nil
}

// dialPlanJSON is the dial plan (docs/api.md "Dial plan").
type dialPlanJSON struct {
	Rules            []dialRuleJSON `json:"rules"`
	EmergencyNumbers []string       `json:"emergency_numbers"`
	EmergencyTrunk   string         `json:"emergency_trunk"`
}

type dialRuleJSON struct {
	Name      string `json:"name"`
	Pattern   string `json:"pattern"`
	Trunk     string `json:"trunk"`
	Strip     int32  `json:"strip"`
	Prepend   string `json:"prepend"`
	CallClass string `json:"call_class"`
}

func dialPlanOut(p *dirpb.DialPlan) dialPlanJSON {
	out := dialPlanJSON{Rules: []dialRuleJSON{}, EmergencyNumbers: nonNil(p.GetEmergencyNumbers()), EmergencyTrunk: p.GetEmergencyTrunk()}
	for _, r := range p.GetRules() {
		out.Rules = append(out.Rules, dialRuleJSON{Name: r.Name, Pattern: r.Pattern, Trunk: r.Trunk,
			Strip: r.Strip, Prepend: r.Prepend, CallClass: r.CallClass})
	}
	return out
}

// maxRules bounds a dial plan (checking it is quadratic in its rules).
const maxRules = 500

func (h *Handler) dialPlanRecord(in *dialPlanJSON) (*dirpb.DialPlan, error) {
	if len(in.Rules) > maxRules {
		return nil, invalid("rules", "more than %d rules", maxRules)
	}
	if len(in.EmergencyNumbers) > maxList {
		return nil, invalid("emergency_numbers", "more than %d numbers", maxList)
	}
	p := &dirpb.DialPlan{EmergencyNumbers: in.EmergencyNumbers, EmergencyTrunk: in.EmergencyTrunk, UpdatedUnix: h.cfg.Now().Unix()}
	for i, r := range in.Rules {
		if err := checkText("rules["+itoa(i)+"].name", r.Name, maxText); err != nil {
			return nil, err
		}
		if len(r.Pattern) > 64 {
			return nil, invalid("rules["+itoa(i)+"].pattern", "longer than 64 bytes")
		}
		p.Rules = append(p.Rules, &dirpb.DialRule{Name: r.Name, Pattern: r.Pattern, Trunk: r.Trunk,
			Strip: r.Strip, Prepend: r.Prepend, CallClass: r.CallClass})
	}
	_, err := dialplan.Compile(p, func(id string) (bool, bool) {
		t, err := h.store.Trunk(id)
		return err == nil, t.GetOutbound() != nil
	})
	if fe, ok := err.(*dialplan.FieldError); ok {
		return nil, invalid(fe.Field, "%s", fe.Msg)
	}
	return p, err
}

// TrunkStatusService reports trunk registrations (the SIP server of the
// node that keeps them). Safe for concurrent use.
type TrunkStatusService interface {
	// TrunkRegistration is the registration state of trunk id; false when
	// nothing is known of it here.
	TrunkRegistration(id string) (TrunkRegistration, bool)
}

// TrunkRegistration is the state of a trunk's registration at its
// upstream, as GET /v1/trunks/{id} shows it.
type TrunkRegistration struct {
	// State is "registered", "registering", "failed" or "elsewhere"
	// (another node of the cluster keeps it: Node names it).
	State string `json:"state"`
	// Node is the node that keeps the registration.
	Node string `json:"node,omitempty"`
	// Expires is when the binding at the upstream ends (registered).
	Expires string `json:"expires,omitempty"`
	// Error is why the last attempt failed (failed).
	Error string `json:"error,omitempty"`
}

// checkE164 accepts "" or a public number's form. That no other line
// has it is the directory's check (its e164 index: 409 from the FSM,
// whichever node the write went through).
func checkE164(e164 string) error {
	if e164 != "" && !e164Pattern.MatchString(e164) {
		return invalid("e164", "%q is not + and 2 to 15 digits (e.g. +4989123456)", e164)
	}
	return nil
}
