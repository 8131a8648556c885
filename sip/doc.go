// Package sip is ucgrid's SIP front end, built on emiago/sipgo: the
// registrar (digest auth), the stateful proxy that forks calls to lines and
// call groups, and SUBSCRIBE/NOTIFY for presence and dialog (BLF). Nothing is
// implemented here yet; it arrives with the SIP issue.
package sip
