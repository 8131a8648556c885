package persistence

import (
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

func grantKind(layer Layer) Kind {
	if layer == LayerPreset {
		return KindPreset
	}
	return KindGrant
}

// putGrant sets the grant target gives viewer in layer. Both must be
// existing users and differ (a user sees everything of itself).
func (t *txn) putGrant(layer Layer, c *dirpb.PutGrant) error {
	if err := checkPair(c.GetTarget(), c.GetViewer()); err != nil {
		return err
	}
	if c.Grant == nil {
		return invalidf("grant %q→%q is missing its grant", c.Target, c.Viewer)
	}
	if err := checkGrant("grant", c.Grant); err != nil {
		return err
	}
	if err := checkUntil("grant until_unix", c.Grant.UntilUnix); err != nil {
		return err
	}
	for _, u := range []string{c.Target, c.Viewer} {
		if _, err := t.user(u); err != nil {
			return err
		}
	}
	byTarget, byViewer := layer.tables()
	if err := t.unindexGrantExpiry(layer, c.Target, c.Viewer); err != nil {
		return err
	}
	if err := t.put(key(byTarget, c.Target, c.Viewer), c.Grant); err != nil {
		return err
	}
	if u := c.Grant.UntilUnix; u != 0 {
		if err := t.putEmpty(expiryKey(u, grantExpiryKind(layer), c.Target, c.Viewer)); err != nil {
			return err
		}
	}
	if err := t.putEmpty(key(byViewer, c.Viewer, c.Target)); err != nil {
		return err
	}
	t.emit(Change{Kind: grantKind(layer), ID: c.Target, Viewer: c.Viewer, Users: sortedUnion([]string{c.Target}, []string{c.Viewer})})
	return nil
}

func (t *txn) deleteGrant(layer Layer, c *dirpb.DeleteGrant) error {
	if err := checkPair(c.GetTarget(), c.GetViewer()); err != nil {
		return err
	}
	byTarget, _ := layer.tables()
	if _, err := t.grant(byTarget, c.Target, c.Viewer); err != nil {
		return err
	}
	return t.removeGrant(layer, c.Target, c.Viewer)
}

func (t *txn) removeGrant(layer Layer, target, viewer string) error {
	byTarget, byViewer := layer.tables()
	if err := t.unindexGrantExpiry(layer, target, viewer); err != nil {
		return err
	}
	if err := t.del(key(byTarget, target, viewer), key(byViewer, viewer, target)); err != nil {
		return err
	}
	t.emit(Change{Kind: grantKind(layer), ID: target, Viewer: viewer, Deleted: true, Users: sortedUnion([]string{target}, []string{viewer})})
	return nil
}

// unindexGrantExpiry deletes the expiry index row of the stored grant
// target gives viewer in layer, if it has an until.
func (t *txn) unindexGrantExpiry(layer Layer, target, viewer string) error {
	byTarget, _ := layer.tables()
	old, err := orAbsent(t.grant(byTarget, target, viewer))
	if err != nil || old.GetUntilUnix() == 0 {
		return err
	}
	return t.del(expiryKey(old.UntilUnix, grantExpiryKind(layer), target, viewer))
}

func checkPair(target, viewer string) error {
	if err := checkID("target", target); err != nil {
		return err
	}
	if err := checkID("viewer", viewer); err != nil {
		return err
	}
	if target == viewer {
		return invalidf("target and viewer are both %q", target)
	}
	return nil
}
