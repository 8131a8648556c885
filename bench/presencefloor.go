package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// floorListening starts the line the floor process prints once it
// accepts connections: "sse-floor listening on HOST:PORT".
const floorListening = "sse-floor listening on "

// compareFloor runs the SSE floor with ucgrid's streams, event bytes and
// rate, and adds its metrics, both servers' CPU per delivery and their
// ratio to res. u is ucgrid's run.
func (cfg *PresenceConfig) compareFloor(ctx context.Context, res *Result, u sseMeasured) error {
	if !u.cpuOK || u.deliveries == 0 || u.sample == nil {
		return fmt.Errorf("bench: floor: ucgrid's run gave no delivery or no CPU figure to compare with (%d deliveries)", u.deliveries)
	}
	fp, err := startFloor(ctx, cfg.FloorExec, cfg.Cluster.NodeLog)
	if err != nil {
		return err
	}
	defer fp.stop()
	hc := &http.Client{Transport: transport}
	floor := sseServer{
		name: "floor", label: "floor: ", changeOp: "POST /broadcast",
		client: func(int) *Client { return NewClient(fp.url) },
		change: func(ctx context.Context, _ int, user, state, note string) error {
			return floorBroadcast(ctx, hc, fp.url, user, floorEvent(u.sample, state, note))
		},
		cpu: fp.cpu,
	}
	f, err := cfg.measure(ctx, floor)
	if err != nil {
		return fmt.Errorf("bench: floor: %w", err)
	}
	res.Metrics = append(res.Metrics, f.metrics...)
	if !f.cpuOK || f.deliveries == 0 {
		return fmt.Errorf("bench: floor: no delivery or no CPU figure (%d deliveries)", f.deliveries)
	}
	uc, fc := u.cpuPerDelivery(), f.cpuPerDelivery()
	ub, fb := u.busyCPUPerDelivery(), f.busyCPUPerDelivery()
	res.Figures = append(res.Figures,
		Figure{Name: "floor CPU per delivery", Value: fc, Unit: "µs"},
		Figure{Name: "floor CPU per delivery, idle CPU taken out", Value: fb, Unit: "µs"},
		Figure{Name: "ucgrid / floor CPU per delivery", Value: uc / fc, Unit: "×"},
		Figure{Name: "ucgrid / floor CPU per delivery, idle CPU taken out", Value: ub / max(fb, 1e-9), Unit: "×"})
	res.Notes = append(res.Notes, fmt.Sprintf("floor: a plain net/http SSE server (bench/ssefloor.go) in a child process, "+
		"%d changes to the same %d streams at the same rate, events of the same bytes as ucgrid's; "+
		"CPU from the window's start to the last delivery (ucgrid: every node, background work included; "+
		"\"idle CPU taken out\" subtracts each server's CPU per second measured for 2 s before the window, streams open)", f.sent, cfg.Watchers))
	return nil
}

// floorEvent is ucgrid's presence event sample with another state and
// note: the bytes ucgrid writes for that change.
func floorEvent(sample []byte, state, note string) []byte {
	data := bytes.TrimSpace(bytes.TrimPrefix(sample, dataPrefix))
	data = setJSONString(data, "state", state)
	data = setJSONString(data, "note", note)
	out := append([]byte("event: presence\ndata: "), data...)
	return append(out, "\n\n"...)
}

// setJSONString replaces the value of the string member key of a flat
// JSON object whose strings have no escapes (ucgrid's presence event).
func setJSONString(js []byte, key, val string) []byte {
	pre := []byte(`"` + key + `":"`)
	i := bytes.Index(js, pre)
	if i < 0 {
		return js
	}
	from := i + len(pre)
	end := bytes.IndexByte(js[from:], '"')
	if end < 0 {
		return js
	}
	out := append(bytes.Clone(js[:from]), val...)
	return append(out, js[from+end:]...)
}

func floorBroadcast(ctx context.Context, hc *http.Client, base, user string, ev []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/broadcast?user="+url.QueryEscape(user), bytes.NewReader(ev))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// The body is at most an error message; draining keeps the connection.
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return &StatusError{Method: "POST", Path: "/broadcast", Code: resp.StatusCode}
	}
	return nil
}

// floorProc is the floor's child process.
type floorProc struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startFloor starts the floor process and waits until it listens.
func startFloor(ctx context.Context, argv []string, log io.Writer) (*floorProc, error) {
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("bench: floor: find the ucgrid executable: %w", err)
		}
		argv = []string{exe, "bench", "sse-floor"}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if log == nil {
		log = io.Discard
	}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: floor: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: floor: start %s: %w", argv[0], err)
	}
	fp := &floorProc{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), floorListening); ok {
				addr <- a
				break
			}
		}
		// Keep reading so that the floor never blocks on its stdout.
		_, _ = io.Copy(io.Discard, out) // ends when the process does
		// The exit status matters only as "it exited".
		_ = cmd.Wait()
		close(fp.exited)
	}()
	select {
	case a := <-addr:
		fp.url = "http://" + a
		return fp, nil
	case <-fp.exited:
		return nil, fmt.Errorf("bench: floor: %s exited before listening", argv[0])
	case <-ctx.Done():
		fp.stop()
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		fp.stop()
		return nil, fmt.Errorf("bench: floor: %s not listening after 30s", argv[0])
	}
}

// cpu is the floor process's CPU so far.
func (fp *floorProc) cpu() (time.Duration, bool) {
	select {
	case <-fp.exited:
		return 0, false
	default:
	}
	return taskCPU(fp.cmd.Process.Pid), true
}

// stop ends the floor (SIGTERM, SIGKILL after 10 s).
func (fp *floorProc) stop() {
	// A process that already exited makes Signal fail; exited tells.
	_ = fp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-fp.exited:
	case <-time.After(10 * time.Second):
		_ = fp.cmd.Process.Kill() // the wait below ends either way
		<-fp.exited
	}
}
