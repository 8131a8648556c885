// Package ldapsync keeps the directory's users, groups and lines in step
// with an LDAP server (Active Directory or OpenLDAP).
//
// A sync is three separable steps: Fetch connects (ldap://, ldaps:// or
// StartTLS, with a CA file), binds with a password read from a file or an
// environment variable (never logged) and reads the people and groups of
// a subtree page by page; MakePlan, a pure function, compares them with
// the directory (Current) and returns the creates, updates and disables
// with the entries it had to skip (Problems, each naming the DN); Apply
// writes the plan through Raft in group commits. Runner ties them
// together on the Raft leader, when asked and every watch interval, and
// stores the outcome (persistence Store.DirectorySyncStatus).
//
// The mapping file (Load, Config) starts from a preset, "ad" or
// "openldap", whose attribute defaults are documented on Config and in
// docs/ldap.md. A sync changes only the fields its mapping names and
// marks what it manages (SyncSource on users, groups and lines, synced on
// members); entries that disappear disable the user and leave groups and
// lines in place marked gone. Nothing is ever deleted.
package ldapsync
