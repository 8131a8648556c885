package api

import (
	"errors"
	"net/http"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/actors/rights"
	"github.com/ucgrid/ucgrid/api/roles"
	"github.com/ucgrid/ucgrid/dialplan"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// grantJSON is a grant on the wire: a level, or individual rights in the
// map shape (true for a boolean right, the grade name for a graded one;
// absent or false = not given). Exactly one is set.
type grantJSON struct {
	Level  *string        `json:"level,omitempty"`
	Rights map[string]any `json:"rights,omitempty"`
	// Until ends a user grant or a preset (RFC 3339; absent, null or "":
	// no end). From then on it counts nowhere and is deleted.
	Until *string `json:"until,omitempty"`
}

// parseGrant converts a wire grant; field prefixes error messages (e.g.
// "member_" for member_level/member_rights). required rejects neither.
func parseGrant(prefix string, level *string, m map[string]any, required bool) (*rights.Grant, error) {
	switch {
	case level != nil && m != nil:
		return nil, invalid(prefix+"level", "give %slevel or %srights, not both", prefix, prefix)
	case level != nil:
		l, err := rights.ParseLevel(*level)
		if err != nil {
			return nil, invalid(prefix+"level", "%q is not one of blocked, public, business, team, personal", *level)
		}
		g := rights.LevelGrant(l)
		return &g, nil
	case m != nil:
		s, err := rights.SetFromMap(m)
		if err != nil {
			return nil, rightsError(prefix+"rights", err)
		}
		g := rights.RightsGrant(s)
		return &g, nil
	case required:
		return nil, invalid(prefix+"level", "give %slevel or %srights", prefix, prefix)
	}
	return nil, nil
}

// rightsError names the offending right of a rights map.
func rightsError(field string, err error) error {
	var un *rights.UnknownNameError
	var bv *rights.BadValueError
	switch {
	case errors.As(err, &un):
		return errorf(http.StatusBadRequest, codeInvalid, "%s.%s: unknown right", field, un.Name)
	case errors.As(err, &bv):
		return errorf(http.StatusBadRequest, codeInvalid, "%s.%s: %v", field, bv.Right, bv)
	}
	return invalid(field, "%v", err)
}

// storedGrant converts an engine grant for the directory (nil stays nil).
func storedGrant(g *rights.Grant) *dirpb.Grant {
	if g == nil {
		return nil
	}
	return dirrights.StoredGrant(*g)
}

// grantOut converts a stored grant to the wire: {"level"} for a level,
// {"rights"} with the rights held for individual rights; nil for none.
func grantOut(g *dirpb.Grant) (level *string, m map[string]any, err error) {
	if g == nil {
		return nil, nil, nil
	}
	rg, err := dirrights.Grant(g)
	if err != nil {
		return nil, nil, err
	}
	if !rg.Individual {
		name := rg.Set.Level().String()
		return &name, nil, nil
	}
	return nil, heldMap(rg.Set), nil
}

// heldMap is the map shape of s with only the rights held.
func heldMap(s rights.Set) map[string]any {
	m := map[string]any{}
	for name, v := range s.Map() {
		if v != false && v != "none" {
			m[name] = v
		}
	}
	return m
}

// ---- global layer ----

type globalJSON struct {
	Level                *string        `json:"level,omitempty"`
	Rights               map[string]any `json:"rights,omitempty"`
	Services             []string       `json:"services"`
	JournalRetentionDays int32          `json:"journal_retention_days"`
	ChatRetentionDays    int32          `json:"chat_retention_days"`
	// DefaultCallClass is the class of service of users without their
	// own ("" means national).
	DefaultCallClass string `json:"default_call_class"`
}

func (h *Handler) getGlobal(w http.ResponseWriter, r *http.Request, c *caller) error {
	g, err := h.store.Global()
	if err != nil {
		return err
	}
	out := globalJSON{Services: nonNil(g.Services), JournalRetentionDays: g.JournalRetentionDays, ChatRetentionDays: g.ChatRetentionDays,
		DefaultCallClass: g.DefaultCallClass}
	stored := g.Grant
	if stored == nil {
		stored = dirrights.StoredGrant(dirrights.DefaultGlobal)
	}
	if out.Level, out.Rights, err = grantOut(stored); err != nil {
		return err
	}
	return h.ok(w, out)
}

// maxRetentionDays bounds retention: about 100 years.
const maxRetentionDays = 36500

func (h *Handler) putGlobal(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("the global layer is set by system roles")
	}
	var in globalJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	g, err := parseGrant("", in.Level, in.Rights, false)
	if err != nil {
		return err
	}
	services, err := parseServices("services", in.Services)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int32
	}{{"journal_retention_days", in.JournalRetentionDays}, {"chat_retention_days", in.ChatRetentionDays}} {
		if f.v < 0 || f.v > maxRetentionDays {
			return invalid(f.name, "%d is not from 0 (keep for ever) to %d", f.v, maxRetentionDays)
		}
	}
	if in.DefaultCallClass != "" {
		if _, err := dialplan.ParseClass(in.DefaultCallClass); err != nil {
			return invalid("default_call_class", "%q is not one of \"\" (national), internal, national, international", in.DefaultCallClass)
		}
	}
	rec := &dirpb.Global{Grant: storedGrant(g), Services: services,
		JournalRetentionDays: in.JournalRetentionDays, ChatRetentionDays: in.ChatRetentionDays, DefaultCallClass: in.DefaultCallClass}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_PutGlobal{PutGlobal: &dirpb.PutGlobal{Global: rec}}}); err != nil {
		return err
	}
	return h.getGlobal(w, r, c)
}

// parseServices validates service names and returns them in catalogue
// order without duplicates.
func parseServices(field string, names []string) ([]string, error) {
	for _, n := range names {
		if _, err := rights.ParseService(n); err != nil {
			return nil, invalid(field, "%q is not a service (see spec/services.tsv)", n)
		}
	}
	ss, err := rights.ParseServices(names)
	if err != nil {
		return nil, invalid(field, "%v", err)
	}
	return ss.Names(), nil
}

// ---- user layer and admin presets ----

// pairParams reads and checks {target} and {viewer}, which must both exist.
func (h *Handler) pairParams(r *http.Request) (target, viewer string, err error) {
	if target, err = pathID(r, "target"); err != nil {
		return "", "", err
	}
	if viewer, err = pathID(r, "viewer"); err != nil {
		return "", "", err
	}
	if target == viewer {
		return "", "", invalid("viewer", "a user holds every right over themself; grants name another user")
	}
	for _, id := range []string{target, viewer} {
		if _, err := h.store.User(id); err != nil {
			return "", "", err
		}
	}
	return target, viewer, nil
}

func (h *Handler) putUserGrant(w http.ResponseWriter, r *http.Request, c *caller) error {
	target, viewer, err := h.pairParams(r)
	if err != nil {
		return err
	}
	if c.id() != target {
		return forbidden("grants/%s: a user grants only on their own behalf; administrators set presets at /v1/admin/grants", viewer)
	}
	if err := h.checkPresetLock(target, viewer); err != nil {
		return err
	}
	g, err := h.decodeGrant(w, r)
	if err != nil {
		return err
	}
	cmd := &dirpb.Command{Op: &dirpb.Command_PutGrant{PutGrant: &dirpb.PutGrant{Target: target, Viewer: viewer, Grant: g}}}
	if err := h.apply(w, r, cmd); err != nil {
		return err
	}
	return h.writeGrant(w, g)
}

func (h *Handler) deleteUserGrant(w http.ResponseWriter, r *http.Request, c *caller) error {
	target, viewer, err := h.pairParams(r)
	if err != nil {
		return err
	}
	if c.id() != target {
		return forbidden("grants/%s: a user grants only on their own behalf", viewer)
	}
	if err := h.checkPresetLock(target, viewer); err != nil {
		return err
	}
	cmd := &dirpb.Command{Op: &dirpb.Command_DeleteGrant{DeleteGrant: &dirpb.DeleteGrant{Target: target, Viewer: viewer}}}
	if err := h.apply(w, r, cmd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkPresetLock refuses a user-layer change where the administrator
// preset individual rights (rights.CheckUserGrant).
func (h *Handler) checkPresetLock(target, viewer string) error {
	stored, err := h.store.Grant(persistence.LayerPreset, target, viewer)
	if errors.Is(err, persistence.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	preset, err := dirrights.Grant(stored)
	if err != nil {
		return err
	}
	if err := rights.CheckUserGrant(&preset); err != nil {
		return errorf(http.StatusForbidden, codePresetLocked, "%v", err)
	}
	return nil
}

// decodeGrant reads a grant or preset body as the record to store, with
// its optional until.
func (h *Handler) decodeGrant(w http.ResponseWriter, r *http.Request) (*dirpb.Grant, error) {
	var in grantJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return nil, err
	}
	g, err := parseGrant("", in.Level, in.Rights, true)
	if err != nil {
		return nil, err
	}
	until, err := parseUntil("until", in.Until, h.cfg.Now())
	if err != nil {
		return nil, err
	}
	stored := storedGrant(g)
	stored.UntilUnix = until
	return stored, nil
}

func (h *Handler) writeGrant(w http.ResponseWriter, g *dirpb.Grant) error {
	out := grantJSON{Until: untilOut(g.GetUntilUnix())}
	var err error
	if out.Level, out.Rights, err = grantOut(g); err != nil {
		return err
	}
	return h.ok(w, out)
}

// mayPreset allows presets on target to those who administer target:
// system roles within their limits, and managers and owners of one of
// target's groups who outrank every role target holds
// (roles.MayAdminister).
func (h *Handler) mayPreset(c *caller, target string) error {
	return h.mayAdminister(c, roles.SetPreset, target, "presets")
}

func (h *Handler) putPreset(w http.ResponseWriter, r *http.Request, c *caller) error {
	target, viewer, err := h.pairParams(r)
	if err != nil {
		return err
	}
	if err := h.mayPreset(c, target); err != nil {
		return err
	}
	g, err := h.decodeGrant(w, r)
	if err != nil {
		return err
	}
	cmd := &dirpb.Command{Op: &dirpb.Command_PutPreset{PutPreset: &dirpb.PutGrant{Target: target, Viewer: viewer, Grant: g}}}
	if err := h.apply(w, r, cmd); err != nil {
		return err
	}
	return h.writeGrant(w, g)
}

func (h *Handler) deletePreset(w http.ResponseWriter, r *http.Request, c *caller) error {
	target, viewer, err := h.pairParams(r)
	if err != nil {
		return err
	}
	if err := h.mayPreset(c, target); err != nil {
		return err
	}
	cmd := &dirpb.Command{Op: &dirpb.Command_DeletePreset{DeletePreset: &dirpb.DeleteGrant{Target: target, Viewer: viewer}}}
	if err := h.apply(w, r, cmd); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// grantEntryJSON is one row of a target's grants list.
type grantEntryJSON struct {
	Viewer string         `json:"viewer"`
	Level  *string        `json:"level,omitempty"`
	Rights map[string]any `json:"rights,omitempty"`
	Until  *string        `json:"until,omitempty"`
}

type grantListJSON struct {
	Grants  []grantEntryJSON `json:"grants"`
	Presets []grantEntryJSON `json:"presets"`
}

// listGrants answers "who may see me": the target's own grants and the
// presets on the target (the target, system roles, and managers and owners
// of the target's groups).
func (h *Handler) listGrants(w http.ResponseWriter, r *http.Request, c *caller) error {
	target, err := pathID(r, "target")
	if err != nil {
		return err
	}
	if _, err := h.store.User(target); err != nil {
		return err
	}
	if c.id() != target {
		if err := h.mayPreset(c, target); err != nil {
			return err
		}
	}
	var out grantListJSON
	for _, l := range []struct {
		layer persistence.Layer
		dst   *[]grantEntryJSON
	}{{persistence.LayerUser, &out.Grants}, {persistence.LayerPreset, &out.Presets}} {
		entries, err := h.store.GrantsOn(l.layer, target)
		if err != nil {
			return err
		}
		*l.dst = make([]grantEntryJSON, 0, len(entries))
		for _, e := range entries {
			row := grantEntryJSON{Viewer: e.Viewer, Until: untilOut(e.Grant.GetUntilUnix())}
			if row.Level, row.Rights, err = grantOut(e.Grant); err != nil {
				return err
			}
			*l.dst = append(*l.dst, row)
		}
	}
	return h.ok(w, out)
}

// ---- explanation ----

type explainJSON struct {
	Level   string              `json:"level"`
	Rights  map[string]any      `json:"rights"`
	Fields  []string            `json:"fields"`
	Because map[string][]string `json:"because"`
	// Until maps each contributing layer that ends ("user", "preset",
	// "group:ID", "leader:ID") to its end, RFC 3339.
	Until map[string]string `json:"until"`
}

// explainRights answers GET /v1/rights/{viewer}/{target} for the viewer,
// the target, system roles, and managers and owners of the target's groups.
func (h *Handler) explainRights(w http.ResponseWriter, r *http.Request, c *caller) error {
	viewer, err := pathID(r, "viewer")
	if err != nil {
		return err
	}
	target, err := pathID(r, "target")
	if err != nil {
		return err
	}
	for _, id := range []string{viewer, target} {
		if _, err := h.store.User(id); err != nil {
			return err
		}
	}
	if c.id() != viewer && c.id() != target {
		if err := h.mayPreset(c, target); err != nil {
			return err
		}
	}
	t, err := dirrights.LoadTarget(h.store, target)
	if err != nil {
		return err
	}
	e := rights.Explain(t.Pair(viewer))
	until := make(map[string]string, len(e.Until))
	for src, u := range e.Until {
		until[src] = *untilOut(u)
	}
	return h.ok(w, explainJSON{Level: e.Level().String(), Rights: e.Set.Map(), Fields: nonNil(e.Fields().Names()), Because: e.BecauseMap(),
		Until: until})
}
