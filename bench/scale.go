package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// ScaleConfig configures the scale scenario: a large directory written
// into one in-process node straight through persistence.Node.Apply (the
// Raft log, as the API's writes, without HTTP) by many writers; then the
// node is stopped and its data started again as a child process
// (`ucgrid serve`): the cold start (process start → /readyz 200) and the
// child's resident memory, before and after Load.Duration of rights
// checks over random pairs, are the figures.
type ScaleConfig struct {
	Common
	// Grants is how many user-layer grants (random target → viewer,
	// random level) are written. Default 1,000,000.
	Grants int `json:"grants"`
	// Writers is how many Apply calls run at once. Default 256: the Raft
	// leader batches the concurrent entries into one log write.
	Writers int `json:"writers"`
	// Seed makes the grants reproducible. Default 1.
	Seed uint64 `json:"seed"`
	// WriteOnly stops after the directory is written and its node shut
	// down: with Cluster.DataDir, the data stays as a first start finds
	// it, so that cold starts of copies of it can be studied one by one
	// (`ucgrid serve --data COPY`). Default false.
	WriteOnly bool `json:"write_only,omitempty"`
}

// WithDefaults returns a copy of c with every zero field set to its
// documented default, Common's included, except that the directory is
// large: 100,000 users (also when 100, the generic default, is asked for)
// and 10,000 groups. The cluster is one node.
func (c ScaleConfig) WithDefaults() ScaleConfig {
	c.Common = c.Common.WithDefaults()
	if c.Directory.Users == 100 { // the generic default: scale means large
		c.Directory.Users = 100_000
	}
	if c.Directory.Groups == 0 {
		c.Directory.Groups = 10_000
	}
	if c.Grants == 0 {
		c.Grants = 1_000_000
	}
	if c.Writers == 0 {
		c.Writers = 256
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	c.Cluster.Nodes = 1
	return c
}

// Validate reports the first invalid field of c with its defaults filled
// in (WithDefaults), as one error naming the field.
func (c ScaleConfig) Validate() error {
	c = c.WithDefaults()
	switch {
	case len(c.Cluster.Target) > 0:
		return errors.New("bench: scale writes into an embedded node: no Target")
	case c.Grants < 0:
		return invalidConfig("ScaleConfig.Grants", "%d is negative", c.Grants)
	case c.Writers < 1:
		return invalidConfig("ScaleConfig.Writers", "%d, must be at least 1", c.Writers)
	}
	return c.Common.Validate()
}

// RunScale runs the scale scenario.
func RunScale(ctx context.Context, cfg ScaleConfig) (*Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.Cluster
	c.Procs = false
	cfg.logf("starting one in-process node")
	cl, err := StartCluster(ctx, c)
	if err != nil {
		return nil, err
	}
	defer cl.Stop()
	res := newResult("scale", cfg)
	start := time.Now()
	rec := NewRecorder("Apply (directory write)", start)
	if err := writeScale(ctx, &cfg, cl.Nodes[0], rec); err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	res.Seconds = elapsed.Seconds()
	res.Metrics = append(res.Metrics, rec.Metric(elapsed))
	cfg.logf("directory written in %.1fs; restarting the node as a child process", elapsed.Seconds())
	if err := cl.Kill(0); err != nil {
		return nil, err
	}
	if cfg.WriteOnly {
		return res, nil
	}
	figs, m, err := coldStart(ctx, &cfg, cl)
	if err != nil {
		return nil, err
	}
	res.Figures = append(res.Figures, figs...)
	res.Metrics = append(res.Metrics, m)
	return res, nil
}

// writeScale writes users, groups (Members consecutive users each) and
// grants with cfg.Writers concurrent Apply calls.
func writeScale(ctx context.Context, cfg *ScaleConfig, n *Node, rec *Recorder) error {
	d := &cfg.Directory
	dir := n.srv.Directory()
	now := time.Now().Unix()
	total := d.Users + d.Groups + cfg.Grants
	cmds := make(chan *dirpb.Command, 4096)
	go func() {
		defer close(cmds)
		emit := func(c *dirpb.Command) bool {
			select {
			case cmds <- c:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for i := range d.Users {
			u := &dirpb.User{Id: d.UserID(i), DisplayName: "Scale User " + strconv.Itoa(i), CreatedUnix: now, UpdatedUnix: now}
			if !emit(&dirpb.Command{Op: &dirpb.Command_PutUser{PutUser: &dirpb.PutUser{User: u}}}) {
				return
			}
		}
		for g := range d.Groups {
			grp := &dirpb.Group{Id: d.GroupID(g), Name: "Scale Group " + strconv.Itoa(g), Active: true,
				MemberGrant: &dirpb.Grant{Level: "team"}}
			for j := range d.Members {
				grp.Members = append(grp.Members, &dirpb.Member{User: d.UserID(d.Member(g, j)), Role: "user"})
			}
			if !emit(&dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: grp}}}) {
				return
			}
		}
		r := rand.New(rand.NewPCG(cfg.Seed, 0))
		for range cfg.Grants {
			t, v := r.IntN(d.Users), r.IntN(d.Users)
			if t == v {
				v = (v + 1) % d.Users
			}
			pg := &dirpb.PutGrant{Target: d.UserID(t), Viewer: d.UserID(v), Grant: &dirpb.Grant{Level: grantLevels[r.IntN(len(grantLevels))]}}
			if !emit(&dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: pg}}) {
				return
			}
		}
	}()
	var done atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	stop := progress(LoadConfig{Progress: cfg.Load.Progress, Duration: time.Duration(total) * time.Second / 20000}, rec.start, []*Recorder{rec})
	for range cfg.Writers {
		wg.Go(func() {
			for c := range cmds {
				t := time.Now()
				if _, err := dir.Apply(ctx, c); err != nil {
					rec.Fail(time.Now(), "error")
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				end := time.Now()
				rec.Observe(end, end.Sub(t))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	stop()
	if err, ok := firstErr.Load().(error); ok {
		return fmt.Errorf("bench: scale write: %w", err)
	}
	return ctx.Err()
}

// coldStart starts the node's data as a child process, measures the time
// to ready and its memory, then reads rights for Load.Duration.
func coldStart(ctx context.Context, cfg *ScaleConfig, cl *Cluster) ([]Figure, Metric, error) {
	n := cl.Nodes[0]
	begin := time.Now()
	if err := cl.startNode(ctx, n, true); err != nil {
		return nil, Metric{}, err
	}
	cold := time.Since(begin)
	pid := n.cmd.Process.Pid
	rssReady, _ := rss(pid)
	api := NewClient(n.URL)
	if err := api.SignIn(ctx, cl.cfg.AdminUser, cl.cfg.AdminPassword); err != nil {
		return nil, Metric{}, err
	}
	cfg.logf("cold start %.2fs; reading rights for %v", cold.Seconds(), cfg.Load.Duration)
	d := &cfg.Directory
	start := time.Now()
	rec := NewRecorder("explain over HTTP (after cold start)", start)
	load := cfg.Load
	load.Rate = 0
	elapsed := drive(ctx, load, start, []*Recorder{rec}, func(ctx context.Context, i int, due time.Time) {
		r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		err := api.Do(ctx, "GET", "/v1/rights/"+d.UserID(r.IntN(d.Users))+"/"+d.UserID(r.IntN(d.Users)), nil, nil)
		observe(rec, due, err)
	})
	cfg.afterRun(ctx, cl)
	rssAfter, peak := rss(pid)
	figs := []Figure{
		{Name: "cold start (process start → /readyz 200)", Value: cold.Seconds(), Unit: "s"},
		{Name: "RSS when ready", Value: rssReady / (1 << 20), Unit: "MiB"},
		{Name: "RSS after the reads", Value: rssAfter / (1 << 20), Unit: "MiB"},
		{Name: "peak RSS (VmHWM)", Value: peak / (1 << 20), Unit: "MiB"},
		{Name: "data directory size", Value: float64(dirSize(n.data)) / (1 << 20), Unit: "MiB"},
	}
	return figs, rec.Metric(elapsed), nil
}

// rss reads a process's resident and peak resident memory in bytes.
func rss(pid int) (cur, peak float64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			cur = kb * 1024
		case "VmHWM":
			peak = kb * 1024
		}
	}
	return cur, peak
}

func dirSize(path string) int64 {
	var total int64
	// An unreadable entry is left out of the size: it is a figure, not a check.
	_ = filepath.WalkDir(path, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if info, err := e.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
