package persistence

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns wraps one of these, a
// Pebble or Raft error, or a context error, so callers branch with errors.Is.
var (
	// ErrNotFound: the record does not exist (reads, and deletes or updates
	// of a missing record).
	ErrNotFound = errors.New("persistence: not found")
	// ErrConflict: the command clashes with existing data, e.g. a call
	// number already used by another group or line.
	ErrConflict = errors.New("persistence: conflict")
	// ErrInvalid: the command is malformed (bad id, unknown enum value,
	// both a level and rights in one grant, ...).
	ErrInvalid = errors.New("persistence: invalid")
	// ErrLimit: the command would exceed a per-record cap that is not
	// enforced by dropping old data, e.g. a user's live event-stream
	// tickets. Retry once some have expired or been used.
	ErrLimit = errors.New("persistence: limit reached")
	// ErrUnknownCommand: the log entry holds no command this build knows,
	// e.g. one written by a newer version. Nothing was changed.
	ErrUnknownCommand = errors.New("persistence: unknown command type")
	// ErrNotLeader: Apply was called on a node that is not the Raft leader;
	// the message names the leader when one is known.
	ErrNotLeader = errors.New("persistence: not the raft leader")
	// ErrNoLeader: no Raft leader could be reached to take a write: none
	// is elected (an election is under way, or this node is on the
	// minority side of a partition) or the known one does not answer. The
	// write was not applied; retry later or on another node.
	ErrNoLeader = errors.New("persistence: no raft leader reachable")
	// ErrOutcomeUnknown: the command was handed to Raft (here or on the
	// leader) but no answer came: it may or may not be applied.
	ErrOutcomeUnknown = errors.New("persistence: outcome unknown")
	// ErrClosed: the node or store has been closed.
	ErrClosed = errors.New("persistence: closed")
	// ErrStoreFailed: a disk write failed (e.g. the disk is full). The store
	// refuses every further write and the node stops Raft; restart the
	// process once the disk is fixed. Nothing unacknowledged is lost: Raft
	// replays the log on restart.
	ErrStoreFailed = errors.New("persistence: store failed")
)

// Code classifies a rejected command. It is what the FSM returns to the
// proposer, and it survives serialisation when a follower forwards a
// command to the leader (see CommandError).
type Code uint8

// Codes of CommandError. Each maps to the sentinel of the same name.
const (
	CodeInvalid Code = iota + 1
	CodeNotFound
	CodeConflict
	CodeUnknownCommand
	CodeLimit
)

func (c Code) sentinel() error {
	switch c {
	case CodeNotFound:
		return ErrNotFound
	case CodeConflict:
		return ErrConflict
	case CodeUnknownCommand:
		return ErrUnknownCommand
	case CodeLimit:
		return ErrLimit
	default:
		return ErrInvalid
	}
}

// CommandError is a command rejected deterministically by the FSM. Every
// node computes the same CommandError for the same log entry, and the
// rejected command changes nothing. errors.Is(err, ErrConflict) etc. work.
type CommandError struct {
	Code Code
	// Msg says what was wrong and names the fields involved.
	Msg string
}

func (e *CommandError) Error() string { return e.Code.sentinel().Error() + ": " + e.Msg }

// Is makes errors.Is(err, ErrNotFound) and friends true for the matching code.
func (e *CommandError) Is(target error) bool { return target == e.Code.sentinel() }

func rejectf(code Code, format string, args ...any) error {
	return &CommandError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) error { return rejectf(CodeInvalid, format, args...) }

func notFoundf(format string, args ...any) error { return rejectf(CodeNotFound, format, args...) }

func conflictf(format string, args ...any) error { return rejectf(CodeConflict, format, args...) }

func limitf(format string, args ...any) error { return rejectf(CodeLimit, format, args...) }

// withContext prefixes the message of a rejection with where it happened;
// other errors pass unchanged.
func withContext(err error, where string) error {
	var ce *CommandError
	if errors.As(err, &ce) {
		return &CommandError{Code: ce.Code, Msg: where + ": " + ce.Msg}
	}
	return err
}
