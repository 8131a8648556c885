package officehours

import (
	"fmt"
	"time"

	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// Mode is the receptionist's override of the office hours.
type Mode uint8

const (
	// ModeAuto follows the schedule. It is the zero value.
	ModeAuto Mode = iota
	// ModeOpen rings the members whatever the schedule says.
	ModeOpen
	// ModeClosed sends calls to the closed destination whatever the
	// schedule says.
	ModeClosed
)

var modeNames = dirpb.OverrideModes // ModeAuto, ModeOpen, ModeClosed

// ParseMode parses "auto", "open" or "closed".
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if s == name {
			return Mode(m), nil
		}
	}
	return 0, fmt.Errorf("officehours: unknown override mode %q (want auto, open or closed)", s)
}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// MarshalText encodes the mode as its name, for JSON.
func (m Mode) MarshalText() ([]byte, error) {
	if int(m) >= len(modeNames) {
		return nil, fmt.Errorf("officehours: unknown override mode %d", uint8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText decodes a mode name.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// Override is the receptionist's setting. An override to open or closed
// persists until it is set back to auto, or until Until when that is set:
// from Until on, the schedule decides again. The caller may clear an expired
// override from storage (see Current); it need not, as Verdict ignores it.
type Override struct {
	Mode Mode `json:"mode"`
	// Until, when not zero, ends the override: at and after Until the
	// schedule applies. Zero means until set back to auto.
	Until time.Time `json:"until,omitzero"`
}

// Active reports whether the override decides the verdict at now.
func (o Override) Active(now time.Time) bool {
	return o.Mode != ModeAuto && (o.Until.IsZero() || now.Before(o.Until))
}

// Current returns the override as it stands at now: itself while active,
// the zero (auto) override once expired or when in auto mode.
func (o Override) Current(now time.Time) Override {
	if o.Active(now) {
		return o
	}
	return Override{}
}
