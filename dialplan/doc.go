// Package dialplan decides where a number that is not in the directory
// goes: a pure function over the stored dirpb.DialPlan, with no I/O.
//
// Compile checks a plan against the trunks that exist (every pattern
// parses, every rule's trunk has an outbound side, no rule is shadowed
// entirely by an earlier one, no two rules overlap without one containing
// the other) and returns a Plan, or an error naming the rule ("rules[2]").
// Plan.Route maps a dialled number to the first matching rule (or to the
// emergency route) with the number to send upstream after strip and
// prepend, and Class.Allows says whether a caller's class of service
// (internal < national < international) may use it. Emergency numbers are
// always allowed.
//
// Patterns follow Asterisk: digits, "+", "*" and "#" match themselves, X
// any digit, Z 1-9, N 2-9, [1-5,7] a set; a trailing "." matches one or
// more characters, a trailing "!" zero or more; a leading "_" is
// optional. docs/api.md ("Outbound trunks, the dial plan and classes of
// service") and docs/sip.md ("Calls out through trunks") describe its use.
package dialplan
