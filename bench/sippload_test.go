package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SIPp's statistics and response-time files become a metric: samples from
// the rtt file, failures from the periodic rows plus what the final row
// adds, kinds from the Failed…(C) columns, and a window that ends at the
// start of the last timed call.
func TestSIPpRun_ReadsStatisticsAndResponseTimes(t *testing.T) {
	dir := t.TempDir()
	stat := "CurrentTime;OutgoingCall(C);SuccessfulCall(C);FailedCall(P);FailedCall(C);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(C)\n" +
		"t;10;9;1;1;1;0\n" + "t;20;17;1;2;2;0\n" + "t;20;17;1;3;3;0\n"
	rtt := "Date_ms;response_time_ms;rtd_no\n100.0;4;ring\n1500.0;300;answer\n1900.0;4;ring\n"
	for name, text := range map[string]string{"stat.csv": stat, "uac_1_rtt.csv": rtt} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &sippRun{start: time.Now(), wall: 3 * time.Second}
	if err := r.read(dir); err != nil {
		t.Fatal(err)
	}
	m := r.recorder("INVITE→200 (call)", "answer", true).Metric(2 * time.Second)
	if m.Count != 1 || m.Errors != 3 || m.ErrorKinds["MaxUDPRetrans"] != 3 {
		t.Errorf("metric: count %d, errors %d, kinds %v; want 1, 3, MaxUDPRetrans 3", m.Count, m.Errors, m.ErrorKinds)
	}
	if got, want := r.seconds(10), 1896*time.Millisecond+100*time.Millisecond; got != want {
		t.Errorf("window %v, want %v", got, want)
	}
	figs := map[string]float64{}
	for _, f := range r.figures("calls", 2*time.Second) {
		figs[f.Name] = f.Value
	}
	if figs["calls attempted"] != 20 || figs["calls completed"] != 17 || figs["calls failed"] != 3 || figs["calls/s completed"] != 8.5 {
		t.Errorf("figures %v", figs)
	}
}
