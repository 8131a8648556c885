package dialplan

import "fmt"

// Class is a class of service: what a caller may dial beyond the
// directory, each allowing what the one before allows.
type Class uint8

// The classes of service, in rising order.
const (
	Internal Class = iota + 1
	National
	International
)

var classNames = [...]string{Internal: "internal", National: "national", International: "international"}

// Classes are the class names, in rising order (for validation messages).
var Classes = []string{"internal", "national", "international"}

func (c Class) String() string {
	if int(c) < len(classNames) && classNames[c] != "" {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// ParseClass reads a class name; the empty string is an error (callers
// decide what empty means: see Effective and RuleClass).
func ParseClass(s string) (Class, error) {
	for c, n := range classNames {
		if n != "" && n == s {
			return Class(c), nil
		}
	}
	return 0, fmt.Errorf("dialplan: class of service %q is not one of internal, national, international", s)
}

// Effective is a user's class of service: their own (User.call_class)
// when set, else the global default, else National. An unknown name
// counts as Internal, so a bad record opens nothing.
func Effective(user, global string) Class {
	name := user
	if name == "" {
		name = global
	}
	if name == "" {
		return National
	}
	c, err := ParseClass(name)
	if err != nil {
		return Internal
	}
	return c
}

// Allows reports whether a caller of class c may take route r.
func (c Class) Allows(r Route) bool { return r.Emergency || c >= r.Class }

// Reason is the SIP reason phrase a phone shows when a caller is refused
// route r: the class it needs.
func (r Route) Reason() string {
	switch r.Class {
	case International:
		return "Call Class International Required"
	case National:
		return "Call Class National Required"
	}
	return "Call Not Allowed"
}
