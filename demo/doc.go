// Package demo fills an empty directory with a small company to look
// around in: `ucgrid serve --demo` runs Fill once the node is ready on a
// directory that holds nothing but the system owner.
//
// Example Corp (example.com, America/New_York) has 33 people with full
// contact cards in eight departments, each a group with a leader and most
// with a deputy; a desk line each and a softphone for some; the reception
// as a ring_all call group (100) with a receptionist (group role
// receptionist) and busy-lamp keys, customer support as a sequential call
// group (300) with office hours, a lunch break and holidays; and grants
// at every layer: the global level (blocked: beyond their departments
// people see names and e-mail), group member and leader grants (levels,
// and individual rights for the support lead), admin presets (the
// reception sees everyone at business; the CEO's assistant holds locked
// individual rights) and grants people made themselves (a personal and a
// blocked one to the plain user), with services at the global, group and
// user layers.
//
// Fill writes it through the node's API handler in-process, so every
// record passes the same validation and rights checks as an
// administrator's request; the grants people make themselves are made in
// their name, as the API allows only them. It generates fresh passwords
// for three people — an administrator, a manager and a plain user — and
// SIP passwords for their desk lines, and Result.Print shows them once:
// the directory keeps only hashes and digests. The other people have no
// password until an administrator gives them one.
package demo
