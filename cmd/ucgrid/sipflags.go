package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ucgrid/ucgrid/sip"
)

// sipConfig is the SIP server's TLS and connection settings from the
// flags; the server fills in the rest (address, domain, directory).
// SIP over TLS serves the HTTPS certificate unless --sip-tls-cert and
// --sip-tls-key name another one.
func (o serveOptions) sipConfig() (sip.Config, error) {
	var c sip.Config
	cert, key := o.SIPTLSCert, o.SIPTLSKey
	if cert == "" && key == "" {
		cert, key = o.HTTPTLSCert, o.HTTPTLSKey
	}
	if o.SIPS != "" && (cert == "" || key == "") {
		return c, errors.New("--sips needs a certificate: give --sip-tls-cert and --sip-tls-key, or --http-tls-cert and --http-tls-key to serve the same one")
	}
	c.TLSAddr, c.TLSCertFile, c.TLSKeyFile = o.SIPS, cert, key
	var err error
	if c.IdleTimeout, err = time.ParseDuration(o.SIPIdleTimeout); err != nil || c.IdleTimeout < time.Second {
		return c, fmt.Errorf("--sip-idle-timeout %q: give a duration of at least 1s, e.g. 5m", o.SIPIdleTimeout)
	}
	if c.MessageTimeout, err = time.ParseDuration(o.SIPMessageTimeout); err != nil || c.MessageTimeout < 100*time.Millisecond {
		return c, fmt.Errorf("--sip-message-timeout %q: give a duration of at least 100ms, e.g. 10s", o.SIPMessageTimeout)
	}
	if c.MaxConnsPerSource, err = strconv.Atoi(o.SIPMaxConnsPerSource); err != nil || c.MaxConnsPerSource < 1 {
		return c, fmt.Errorf("--sip-max-conns-per-source %q: give a number of at least 1, e.g. 32", o.SIPMaxConnsPerSource)
	}
	if o.SIPAdvertise != "" {
		if err := sip.CheckAdvertise(o.SIPAdvertise, o.SIP); err != nil {
			return c, advertiseError(err)
		}
		c.Advertise = o.SIPAdvertise
	}
	if err := o.sipOverload(&c); err != nil {
		return c, err
	}
	return c, o.sipNAT(&c)
}

// sipOverload reads the overload control's limits into c. On the command
// line 0 disables a bound (sip.Config: negative disables, zero is the
// default).
func (o serveOptions) sipOverload(c *sip.Config) error {
	var err error
	if c.MaxCallsSettingUp, err = strconv.Atoi(o.SIPMaxCallsSettingUp); err != nil || c.MaxCallsSettingUp < 0 {
		return fmt.Errorf("--sip-max-calls-setting-up %q: give a number, e.g. 200, or 0 for no bound", o.SIPMaxCallsSettingUp)
	}
	if c.MaxTransactions, err = strconv.Atoi(o.SIPMaxTransactions); err != nil || c.MaxTransactions < 0 {
		return fmt.Errorf("--sip-max-transactions %q: give a number, e.g. 5000, or 0 for no bound", o.SIPMaxTransactions)
	}
	if c.MaxQueueAge, err = time.ParseDuration(o.SIPMaxQueueAge); err != nil || c.MaxQueueAge < 0 {
		return fmt.Errorf("--sip-max-queue-age %q: give a duration, e.g. 10ms, or 0 for no bound", o.SIPMaxQueueAge)
	}
	if c.EdgeProcess, err = strconv.ParseBool(o.SIPEdgeProcess); err != nil {
		return fmt.Errorf("--sip-edge-process %q: give true or false", o.SIPEdgeProcess)
	}
	if c.MaxSchedLatency, err = time.ParseDuration(o.SIPMaxSchedLatency); err != nil || c.MaxSchedLatency < 0 {
		return fmt.Errorf("--sip-max-sched-latency %q: give a duration, e.g. 20ms, or 0 for no bound", o.SIPMaxSchedLatency)
	}
	if c.OverloadRetryAfter, err = time.ParseDuration(o.SIPOverloadRetryAfter); err != nil || c.OverloadRetryAfter < time.Second {
		return fmt.Errorf("--sip-overload-retry-after %q: give a duration of at least 1s, e.g. 2s", o.SIPOverloadRetryAfter)
	}
	for _, v := range []*int{&c.MaxCallsSettingUp, &c.MaxTransactions} {
		if *v == 0 {
			*v = -1
		}
	}
	for _, v := range []*time.Duration{&c.MaxQueueAge, &c.MaxSchedLatency} {
		if *v == 0 {
			*v = -1
		}
	}
	return nil
}

// sipNAT reads the NAT traversal settings into c.
func (o serveOptions) sipNAT(c *sip.Config) error {
	var err error
	if c.NATExpires, err = time.ParseDuration(o.SIPNATExpires); err != nil || c.NATExpires < time.Minute {
		return fmt.Errorf("--sip-nat-expires %q: give a duration of at least 60s (the shortest registration accepted), e.g. 60s", o.SIPNATExpires)
	}
	if c.NATPingInterval, err = time.ParseDuration(o.SIPNATPing); err != nil || c.NATPingInterval < 0 ||
		(c.NATPingInterval > 0 && c.NATPingInterval < time.Second) {
		return fmt.Errorf("--sip-nat-ping %q: give a duration of at least 1s, e.g. 20s, or 0 to disable the pings", o.SIPNATPing)
	}
	if c.NATPingInterval == 0 {
		c.NATPingInterval = -1 // sip.Config: negative disables, zero is the default
	}
	if c.NATPingCRLF, err = strconv.ParseBool(o.SIPNATPingCRLF); err != nil {
		return fmt.Errorf("--sip-nat-ping-crlf %q: give true or false", o.SIPNATPingCRLF)
	}
	return nil
}

// advertiseError turns a *sip.AdvertiseError into one line naming the
// flag; other errors pass through.
func advertiseError(err error) error {
	var ae *sip.AdvertiseError
	if !errors.As(err, &ae) {
		return err
	}
	return fmt.Errorf("--sip-advertise %q: %s", ae.Advertise, ae.Reason)
}
