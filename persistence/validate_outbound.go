package persistence

import (
	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

var (
	callClasses    = append([]string{""}, dialplan.Classes...)
	trunkTransport = []string{"", "udp", "tcp", "tls"}
	callerIDModes  = []string{"", "line", "trunk"}
)

// checkCallClass allows "" (inherit) and the dialplan classes.
func checkCallClass(field, v string) error { return checkOneOf(field, v, callClasses) }

// checkE164 allows "" or a "+" and 2 to 15 digits (ITU-T E.164).
func checkE164(field, v string) error {
	if v == "" {
		return nil
	}
	if len(v) < 3 || len(v) > 16 || v[0] != '+' {
		return invalidf("%s=%q is not + and 2 to 15 digits", field, v)
	}
	for i := 1; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return invalidf("%s=%q is not + and 2 to 15 digits", field, v)
		}
	}
	return nil
}

// checkOutbound validates a trunk's outbound side (nil: none).
func checkOutbound(o *dirpb.TrunkOutbound) error {
	if o == nil {
		return nil
	}
	if o.Host == "" {
		return invalidf("outbound.host is empty")
	}
	if o.Port < 0 || o.Port > 65535 {
		return invalidf("outbound.port=%d is not 0..65535", o.Port)
	}
	if err := checkOneOf("outbound.transport", o.Transport, trunkTransport); err != nil {
		return err
	}
	if err := checkOneOf("outbound.caller_id", o.CallerId, callerIDModes); err != nil {
		return err
	}
	if o.CallerId == "trunk" && o.MainNumber == "" {
		return invalidf("outbound.main_number is empty but caller_id is \"trunk\"")
	}
	if o.Register && o.Username == "" {
		return invalidf("outbound.username is empty but register is set")
	}
	if o.RegisterExpiresS < 0 {
		return invalidf("outbound.register_expires_s=%d is negative", o.RegisterExpiresS)
	}
	return nil
}
