package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// DirectoryConfig is the generated directory a scenario runs on. Every
// id carries Prefix, so a run against a running cluster (Target) touches
// only its own records.
type DirectoryConfig struct {
	// Prefix starts every generated id. Default "b".
	Prefix string `json:"prefix"`
	// Users is how many users are generated (PREFIXu0…). Default 100.
	Users int `json:"users"`
	// Groups is how many groups (PREFIXg0…), each with a call group of
	// Strategy. Default 0 (the scenarios that need groups say so; ucgrid
	// bench sets a number per scenario).
	Groups int `json:"groups"`
	// Strategy is the call groups' hunt strategy (dirpb.Strategies).
	// Default "ring_all": every member rings, the ring_all flow Kamailio
	// is measured on; "round_robin" and "longest_idle" also write their
	// hunt memory through Raft on every call.
	Strategy string `json:"strategy"`
	// Members is how many users each group has (consecutive users,
	// wrapping). Default 3: a small team's hunt group.
	Members int `json:"members"`
	// SignIns is how many of the users (the first) get a password, for
	// scenarios that sign them in; each password costs the node one
	// argon2 hash. Default 0.
	SignIns int `json:"sign_ins"`
	// Lines gives every user a primary line with a SIP password. Default
	// false.
	Lines bool `json:"lines"`
	// GlobalLevel is the global layer's level. Default "team": presence
	// changes and notes reach every watcher.
	GlobalLevel string `json:"global_level"`
	// Writers is how many API writes run at once. Default 32: the Raft
	// leader batches concurrent entries.
	Writers int `json:"writers"`
}

// WithDefaults returns a copy of d with every zero field set to its
// documented default.
func (d DirectoryConfig) WithDefaults() DirectoryConfig {
	if d.Prefix == "" {
		d.Prefix = "b"
	}
	if d.Users == 0 {
		d.Users = 100
	}
	if d.Members == 0 {
		d.Members = 3
	}
	if d.Strategy == "" {
		d.Strategy = dirpb.StrategyRingAll
	}
	if d.GlobalLevel == "" {
		d.GlobalLevel = "team"
	}
	if d.Writers == 0 {
		d.Writers = 32
	}
	return d
}

// Validate reports the first invalid field of d with its defaults filled
// in (WithDefaults), as one error naming the field.
func (d DirectoryConfig) Validate() error {
	d = d.WithDefaults()
	switch {
	case d.Users < 1:
		return invalidConfig("DirectoryConfig.Users", "%d, must be at least 1", d.Users)
	case d.Groups < 0:
		return invalidConfig("DirectoryConfig.Groups", "%d is negative", d.Groups)
	case d.Members < 1:
		return invalidConfig("DirectoryConfig.Members", "%d, must be at least 1", d.Members)
	case d.SignIns < 0:
		return invalidConfig("DirectoryConfig.SignIns", "%d is negative", d.SignIns)
	case d.Writers < 1:
		return invalidConfig("DirectoryConfig.Writers", "%d, must be at least 1", d.Writers)
	case !slices.Contains(dirpb.Strategies[:], d.Strategy):
		return invalidConfig("DirectoryConfig.Strategy", "%q is not one of %s", d.Strategy, strings.Join(dirpb.Strategies[:], ", "))
	}
	return nil
}

// UserID, GroupID, LineNumber and GroupNumber name the generated records.
func (d *DirectoryConfig) UserID(i int) string { return fmt.Sprintf("%su%d", d.Prefix, i) }

func (d *DirectoryConfig) GroupID(g int) string { return fmt.Sprintf("%sg%d", d.Prefix, g) }

// LineNumber is user i's primary line: 1 followed by six digits.
func (d *DirectoryConfig) LineNumber(i int) string { return fmt.Sprintf("1%06d", i) }

// GroupNumber is group g's call-group number: 9 followed by five digits.
func (d *DirectoryConfig) GroupNumber(g int) string { return fmt.Sprintf("9%05d", g) }

// LinePassword is the SIP password of a generated line.
func (d *DirectoryConfig) LinePassword(number string) string { return "sip-" + number + "-pw" }

// UserPassword is the password of a generated user that signs in.
func (d *DirectoryConfig) UserPassword(i int) string { return fmt.Sprintf("bench-pw-%d", i) }

// Member returns the j-th member (user index) of group g.
func (d *DirectoryConfig) Member(g, j int) int { return (g*d.Members + j) % d.Users }

// generate writes the directory through the API of c (any node: writes
// are forwarded to the leader). progress, when not nil, is told of each
// record written.
func (d *DirectoryConfig) generate(ctx context.Context, c *Client, progress func(done, total int)) error {
	*d = d.WithDefaults()
	var steps []func() error
	for i := range d.Users {
		steps = append(steps, func() error { return d.putUser(ctx, c, i) })
	}
	if err := runParallel(ctx, d.Writers, steps, progress); err != nil {
		return err
	}
	steps = steps[:0]
	for g := range d.Groups {
		steps = append(steps, func() error { return d.putGroup(ctx, c, g) })
	}
	if err := runParallel(ctx, d.Writers, steps, progress); err != nil {
		return err
	}
	return c.Setup(ctx, http.MethodPut, "/v1/global", map[string]any{"level": d.GlobalLevel})
}

func (d *DirectoryConfig) putUser(ctx context.Context, c *Client, i int) error {
	id := d.UserID(i)
	u := map[string]any{"display_name": fmt.Sprintf("Bench User %d", i)}
	if i < d.SignIns {
		u["password"] = d.UserPassword(i)
	}
	if err := c.Setup(ctx, http.MethodPut, "/v1/users/"+id, u); err != nil {
		return err
	}
	if !d.Lines {
		return nil
	}
	n := d.LineNumber(i)
	return c.Setup(ctx, http.MethodPut, "/v1/lines/"+n, map[string]any{
		"owner": id, "kind": "primary", "sip_password": d.LinePassword(n)})
}

func (d *DirectoryConfig) putGroup(ctx context.Context, c *Client, g int) error {
	var members []map[string]any
	seen := map[int]bool{}
	for j := range d.Members {
		m := d.Member(g, j)
		if seen[m] {
			continue
		}
		seen[m] = true
		members = append(members, map[string]any{"user": d.UserID(m), "role": "user"})
	}
	return c.Setup(ctx, http.MethodPut, "/v1/groups/"+d.GroupID(g), map[string]any{
		"name": fmt.Sprintf("Bench Group %d", g), "active": true, "members": members, "member_level": "team",
		"call_group": map[string]any{"mode": "sip", "number": d.GroupNumber(g), "strategy": d.Strategy, "ring_timeout_s": 30},
	})
}

// runParallel runs steps on n workers and returns the first error.
func runParallel(ctx context.Context, n int, steps []func() error, progress func(done, total int)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(n, len(steps)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(steps) {
					return
				}
				if err := steps[i](); err != nil {
					cancel(err)
					return
				}
				if d := done.Add(1); progress != nil {
					progress(int(d), len(steps))
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
