// Package api is ucgrid's HTTP interface: the JSON routes of DESIGN.md §3,
// authentication and roles, the Server-Sent Events stream and the embedded
// web console. Nothing is implemented here yet; it arrives with the API issue.
package api
