package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// sippAnswerAfter is how long the answering SIPp phone rings: the flow
// measured against Kamailio (its peer's run_peer.sh).
const sippAnswerAfter = 300 * time.Millisecond

// runSIPpHunt is the hunt scenario with SIPp: a SIPp phone per member of
// one ring_all group (registered with digest; the first answers after
// AnswerAfter, default 300 ms, the others ring until cancelled) and a
// SIPp trunk caller calling the group at Load.Rate for Load.Duration.
// cfg has its defaults (HuntConfig.WithDefaults).
func runSIPpHunt(ctx context.Context, cfg HuntConfig) (*Result, error) {
	e, err := setUpSIPp(ctx, &cfg.Common, &cfg.SIP, true)
	if err != nil {
		return nil, err
	}
	defer e.close()
	cfg.Common.logf("starting %d SIPp phones", len(e.lines))
	if err := e.startPhones(ctx, cfg.SIP.AnswerAfter); err != nil {
		return nil, err
	}
	sf, err := e.scenario("uac_call.xml", "HOLD_MS", strconv.FormatInt(cfg.SIP.Hold.Milliseconds(), 10))
	if err != nil {
		return nil, err
	}
	res := newResult("hunt", cfg)
	cfg.Common.logf("SIPp calls group %s at %s: %g calls/s for %s", e.group, e.target, cfg.Load.Rate, cfg.Load.Duration)
	run, err := e.runLoad(ctx, cfg.Load, sf, "-s", e.group, "-recv_timeout", sippMillis(cfg.SIP.CallTimeout))
	if err != nil {
		return nil, err
	}
	cfg.afterRun(ctx, e.cl)
	window := run.seconds(cfg.Load.Rate)
	res.Seconds = window.Seconds()
	answered, refused := run.callRecorders()
	am, rm := answered.Metric(window), refused.Metric(window)
	res.Metrics = append(res.Metrics, am, run.recorder("INVITE→180", "ring", false).Metric(window), rm)
	res.Figures = append(res.Figures, run.figures("calls", window)...)
	res.Goodput = newGoodput(am, rm, window)
	res.Notes = append(res.Notes, sippNote(e))
	return res, nil
}

// callRecorders are uac_call.xml's answered calls (rtd "answer"; SIPp's
// failed calls and the refused ones as errors) and its refusals (rtd
// "refused": INVITE→503), for Goodput.
func (r *sippRun) callRecorders() (answered, refused *Recorder) {
	answered = r.recorder("INVITE→200 (call)", "answer", true)
	refused = r.recorder(refusedMetric, "refused", false)
	for _, s := range r.rtd["refused"] {
		answered.Fail(s.at, "503")
	}
	return answered, refused
}

// runSIPpRegister is the register scenario with SIPp: a REGISTER loop
// with digest (401, authorised REGISTER, 200) over every line in turn at
// Load.Rate for Load.Duration.
func runSIPpRegister(ctx context.Context, cfg RegisterConfig) (*Result, error) {
	e, err := setUpSIPp(ctx, &cfg.Common, &cfg.SIP, false)
	if err != nil {
		return nil, err
	}
	defer e.close()
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	sf, err := e.scenario("register.xml")
	if err != nil {
		return nil, err
	}
	inf, err := e.injectFile("lines.csv", e.lines, []int{port}, cfg.Expires)
	if err != nil {
		return nil, err
	}
	res := newResult("register", cfg)
	cfg.Common.logf("SIPp registers %d lines at %s: %g REGISTERs/s for %s", len(e.lines), e.target, cfg.Load.Rate, cfg.Load.Duration)
	run, err := e.runLoad(ctx, cfg.Load, sf, "-inf", inf, "-p", strconv.Itoa(port), "-recv_timeout", sippMillis(cfg.SIP.CallTimeout))
	if err != nil {
		return nil, err
	}
	cfg.afterRun(ctx, e.cl)
	window := run.seconds(cfg.Load.Rate)
	res.Seconds = window.Seconds()
	res.Metrics = append(res.Metrics, run.recorder("REGISTER (digest)", "register", true).Metric(window))
	res.Figures = append(res.Figures, run.figures("REGISTERs", window)...)
	res.Notes = append(res.Notes, sippNote(e))
	return res, nil
}

// sippMillis is d as SIPp's time option in milliseconds: a call that
// waits longer for a response fails (SIPConfig.CallTimeout), instead of
// waiting out SIP's 32 s timers at the end of the run.
func sippMillis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// sippNote says what generated the load and where the latencies come
// from, for the report.
func sippNote(e *sippEnv) string {
	server := "the bench's own node"
	if e.cl == nil {
		server = "a foreign SIP server"
	}
	cpu := "CPU of " + server
	if e.cpu == nil {
		cpu = "no server CPU (give --server-pid)"
	}
	return fmt.Sprintf("generator sipp against %s at %s; latencies are SIPp's response times (rtd, its timer may step by a few ms); %s", server, e.target, cpu)
}
