package rights

// Layer names where a right came from.
type Layer uint8

// The layers, in the order DESIGN.md §2 lists them, and Self.
const (
	LayerGlobal Layer = iota
	LayerGroup
	LayerLeader
	LayerPreset
	LayerUser
	LayerSelf
)

var layerNames = [...]string{"global", "group", "leader", "preset", "user", "self"}

func (l Layer) String() string { return layerNames[l] }

// Source is one place a right came from: a layer, and for the group and
// leader layers the group.
type Source struct {
	Layer Layer
	Group string
}

// String gives the wire form: "global", "group:ID", "leader:ID", "preset",
// "user" or "self".
func (s Source) String() string {
	if s.Layer == LayerGroup || s.Layer == LayerLeader {
		return s.Layer.String() + ":" + s.Group
	}
	return s.Layer.String()
}

// Explanation is an effective set with the sources of each right.
type Explanation struct {
	Set Set
	// Because lists, per right, the sources that give it at its effective
	// grade, in layer order; empty for a right not held. A source giving a
	// graded right only at a lower grade is not listed: it did not decide
	// the value.
	Because [NumRights][]Source
	// Until lists, for each layer that gives the viewer something and
	// ends, when it ends (unix seconds), by Source.String(). A group layer
	// ends with the earlier of the two memberships, a leader layer with
	// the target's membership or the deputyship.
	Until map[string]int64
}

// Level returns the standard level equal to the effective set, or Special.
func (e Explanation) Level() Level { return e.Set.Level() }

// Fields returns the contact fields the viewer sees.
func (e Explanation) Fields() FieldSet { return VisibleFields(e.Set) }

// BecauseMap returns Because in the JSON shape: every right by name, each
// with its list of source strings (empty when not held).
func (e Explanation) BecauseMap() map[string][]string {
	m := make(map[string][]string, NumRights)
	for i, srcs := range e.Because {
		names := make([]string, len(srcs))
		for j, src := range srcs {
			names[j] = src.String()
		}
		m[Right(i).Name()] = names
	}
	return m
}

// Explain computes Effective(p) and the sources of every right. It is the
// slow path for the explain API and audits; Effective is the hot one.
func Explain(p *Pair) Explanation {
	var e Explanation
	if p.Viewer == p.Target {
		e.Set = All
		for i := range e.Because {
			e.Because[i] = []Source{{Layer: LayerSelf}}
		}
		return e
	}
	contributions := layerContributions(p)
	for _, c := range contributions {
		e.Set |= c.set
		if c.until != 0 {
			if e.Until == nil {
				e.Until = map[string]int64{}
			}
			e.Until[c.src.String()] = c.until
		}
	}
	for i := range e.Because {
		r := Right(i)
		want := e.Set.Grade(r)
		if want == 0 {
			continue
		}
		for _, c := range contributions {
			if c.set.Grade(r) == want {
				e.Because[i] = append(e.Because[i], c.src)
			}
		}
	}
	return e
}

type contribution struct {
	src   Source
	set   Set
	until int64 // when the layer ends for the pair; 0: never
}

// layerContributions lists what each layer of p gives, in layer order.
func layerContributions(p *Pair) []contribution {
	cs := []contribution{{src: Source{Layer: LayerGlobal}, set: p.Global.Set}}
	for _, g := range p.Groups {
		if g.Active && g.HasMember(p.Target) && g.HasMember(p.Viewer) {
			until := earliest(g.MemberUntil[p.Target], g.MemberUntil[p.Viewer])
			cs = append(cs, contribution{Source{LayerGroup, g.ID}, g.MemberGrant.Set, until})
		}
	}
	for _, g := range p.Groups {
		if g.Active && g.HasMember(p.Target) && g.Leads(p.Viewer) {
			until := g.MemberUntil[p.Target]
			if p.Viewer != g.Leader {
				until = earliest(until, g.DeputyUntil)
			}
			cs = append(cs, contribution{Source{LayerLeader, g.ID}, g.LeaderGrant.Set, until})
		}
	}
	if p.Preset != nil {
		cs = append(cs, contribution{Source{Layer: LayerPreset}, p.Preset.Set, p.Preset.Until})
	}
	if p.User != nil {
		cs = append(cs, contribution{Source{Layer: LayerUser}, p.User.Set, p.User.Until})
	}
	return cs
}

// earliest is the earlier of two ends, 0 meaning never.
func earliest(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// ServiceExplanation is a user's effective services with their sources.
type ServiceExplanation struct {
	Set     ServiceSet
	Because [NumServices][]Source
}

// Services returns the services user may use: the union of the global
// services, those of every active group user is a member of, and the user's
// own. A group that does not allow a service takes nothing away.
func Services(user string, global ServiceSet, groups []*Group, own ServiceSet) ServiceExplanation {
	var e ServiceExplanation
	add := func(ss ServiceSet, src Source) {
		e.Set |= ss
		for sv := Service(0); sv < NumServices; sv++ {
			if ss.Has(sv) {
				e.Because[sv] = append(e.Because[sv], src)
			}
		}
	}
	add(global, Source{Layer: LayerGlobal})
	for _, g := range groups {
		if g.Active && g.HasMember(user) {
			add(g.Services, Source{LayerGroup, g.ID})
		}
	}
	add(own, Source{Layer: LayerUser})
	return e
}
