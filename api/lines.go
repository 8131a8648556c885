package api

import (
	"crypto/md5" //nolint:gosec // RFC 2617 digest HA1 is MD5 by definition
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ucgrid/ucgrid/actors/dirrights"
	"github.com/ucgrid/ucgrid/api/password"
	"github.com/ucgrid/ucgrid/api/roles"
	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// lineJSON is a line on the wire. sip_password is write-only (stored as
// digest HA1 values); forwarding is read-only here (PUT .../forwarding).
type lineJSON struct {
	Number         string          `json:"number,omitempty"`
	Owner          string          `json:"owner"`
	Kind           string          `json:"kind"`
	Private        bool            `json:"private"`
	Label          string          `json:"label"`
	SIPPassword    *string         `json:"sip_password,omitempty"`
	HasSIPPassword bool            `json:"has_sip_password"`
	Realm          string          `json:"realm,omitempty"`
	Forwarding     *forwardingJSON `json:"forwarding,omitempty"` // read-only
	CreatedAt      *time.Time      `json:"created_at,omitempty"`
	UpdatedAt      *time.Time      `json:"updated_at,omitempty"`

	// E164 is the line's public number: its caller ID on calls out, and
	// calls in from trunks to it reach the line.
	E164 string `json:"e164"`
	// WithholdCallerID sends the line's calls out anonymously (RFC 3323).
	WithholdCallerID bool `json:"withhold_caller_id"`
	// Synced is read-only: set when the line comes from the LDAP sync.
	Synced *syncedJSON `json:"synced,omitempty"`
}

func lineOut(l *dirpb.Line) lineJSON {
	fw := forwardingOut(dirrights.Forwarding(l))
	return lineJSON{Number: l.Number, Owner: l.Owner, Kind: l.Kind, Private: l.Private, Label: l.Label,
		HasSIPPassword: l.Ha1Md5 != "" || l.Ha1Sha256 != "", Realm: l.Realm,
		Forwarding: &fw, CreatedAt: unixTime(l.CreatedUnix), UpdatedAt: unixTime(l.UpdatedUnix),
		E164: l.E164, WithholdCallerID: l.WithholdCallerId, Synced: syncedOut(l.Synced)}
}

// digestHA1 returns hex MD5 and SHA-256 of number:realm:password (RFC 2617
// and RFC 7616 HA1): what a registrar needs to check digest responses
// without the password.
func digestHA1(number, realm, pw string) (md5hex, sha256hex string) {
	a1 := number + ":" + realm + ":" + pw
	m := md5.Sum([]byte(a1)) //nolint:gosec // see import
	s := sha256.Sum256([]byte(a1))
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

func (h *Handler) lineRecord(number string, in *lineJSON) (*dirpb.Line, error) {
	if in.Number != "" && in.Number != number {
		return nil, invalid("number", "%q differs from the number in the path %q", in.Number, number)
	}
	if err := checkID("owner", in.Owner); err != nil {
		return nil, err
	}
	if err := h.mustExist("owner", in.Owner); err != nil {
		return nil, err
	}
	if in.Kind == "" {
		in.Kind = dirpb.KindPrimary
	}
	if !slices.Contains(dirpb.LineKinds[:], in.Kind) {
		return nil, invalid("kind", "%q is not one of "+strings.Join(dirpb.LineKinds[:], ", "), in.Kind)
	}
	if err := checkText("label", in.Label, maxText); err != nil {
		return nil, err
	}
	if err := checkE164(in.E164); err != nil {
		return nil, err
	}
	l := &dirpb.Line{Number: number, Owner: in.Owner, Kind: in.Kind, Private: in.Private, Label: in.Label,
		E164: in.E164, WithholdCallerId: in.WithholdCallerID}
	if in.SIPPassword != nil {
		pw := *in.SIPPassword
		if len(pw) < password.MinLength || len(pw) > maxText {
			return nil, invalid("sip_password", "must be %d to %d characters", password.MinLength, maxText)
		}
		if err := checkText("sip_password", pw, maxText); err != nil {
			return nil, err
		}
		l.Realm = h.cfg.SIPRealm
		l.Ha1Md5, l.Ha1Sha256 = digestHA1(number, h.cfg.SIPRealm, pw)
	}
	return l, nil
}

// putLine creates or replaces a line (system roles; managers and owners
// of a group the owner, old and new, belongs to). An omitted sip_password
// keeps the stored digests; forwarding is kept (the command carries none,
// so the directory keeps what it holds when it applies it: a concurrent
// PUT .../forwarding is not undone).
func (h *Handler) putLine(w http.ResponseWriter, r *http.Request, c *caller) error {
	number, err := pathNumber(r, "number")
	if err != nil {
		return err
	}
	var in lineJSON
	if err := h.decodeBody(w, r, &in); err != nil {
		return err
	}
	l, err := h.lineRecord(number, &in)
	if err != nil {
		return err
	}
	old, err := h.optionalLine(number)
	if err != nil {
		return err
	}
	if old != nil {
		if err := h.mayManageLinesOf(c, old.Owner); err != nil {
			return err
		}
		l.CreatedUnix = old.CreatedUnix
		l.Synced = old.Synced // read-only: the sync's mark survives an edit
	}
	if err := h.mayManageLinesOf(c, l.Owner); err != nil {
		return err
	}
	l.UpdatedUnix = h.cfg.Now().Unix()
	if old == nil {
		l.CreatedUnix = l.UpdatedUnix
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_PutLine{PutLine: &dirpb.PutLine{Line: l}}}); err != nil {
		return err
	}
	if old != nil && in.SIPPassword == nil {
		l.Realm, l.Ha1Md5, l.Ha1Sha256 = old.Realm, old.Ha1Md5, old.Ha1Sha256
	}
	if old != nil {
		l.Forwarding = old.Forwarding
	}
	status := http.StatusOK
	if old == nil {
		status = http.StatusCreated
	}
	writeJSON(w, status, lineOut(l))
	return nil
}

// mayManageLinesOf allows line administration of owner's lines (the SIP
// password among them) to those who administer owner: system roles within
// their limits, and managers and owners of one of owner's groups who
// outrank every role owner holds (roles.MayAdminister).
func (h *Handler) mayManageLinesOf(c *caller, owner string) error {
	return h.mayAdminister(c, roles.ManageMembers, owner, "lines")
}

func (h *Handler) optionalLine(number string) (*dirpb.Line, error) {
	l, err := h.store.Line(number)
	if isNotFound(err) {
		return nil, nil
	}
	return l, err
}

func isNotFound(err error) bool { return errors.Is(err, persistence.ErrNotFound) }

// getLine shows a line to its owner and to those who administer the
// owner (ViewMember); the rights-filtered line state is another route.
func (h *Handler) getLine(w http.ResponseWriter, r *http.Request, c *caller) error {
	number, err := pathNumber(r, "number")
	if err != nil {
		return err
	}
	l, err := h.store.Line(number)
	if err != nil {
		return err
	}
	if err := h.mayViewUser(c, l.Owner); err != nil {
		return forbidden("line %s is shown to its owner and to administrators of the owner", number)
	}
	return h.ok(w, lineOut(l))
}

func (h *Handler) deleteLine(w http.ResponseWriter, r *http.Request, c *caller) error {
	number, err := pathNumber(r, "number")
	if err != nil {
		return err
	}
	l, err := h.store.Line(number)
	if err != nil {
		return err
	}
	if err := h.mayManageLinesOf(c, l.Owner); err != nil {
		return err
	}
	if err := h.apply(w, r, &dirpb.Command{Op: &dirpb.Command_DeleteLine{DeleteLine: &dirpb.DeleteLine{Number: number}}}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listLines pages through every line (system roles).
func (h *Handler) listLines(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.subject.IsSystem() {
		return forbidden("listing all lines needs a system role")
	}
	after, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	lines, next, err := h.store.ListLines(after, limit)
	if err != nil {
		return err
	}
	out := page[lineJSON]{Items: make([]lineJSON, len(lines)), Next: next}
	for i, l := range lines {
		out.Items[i] = lineOut(l)
	}
	return h.ok(w, out)
}
