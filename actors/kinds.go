package actors

// The grain kinds besides KindUser: a line grain's identity is the line
// number, a group grain's the group id.
const (
	KindLine  = "line"
	KindGroup = "group"
)
