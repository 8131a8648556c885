// Package api is ucgrid's HTTP interface: Listen binds the node's port and
// serves /healthz, /readyz and /metrics, over HTTPS when Config names a
// certificate (ReloadCertificate reads it again); NewHandler builds the /v1 routes
// of DESIGN.md §3 over the directory (writes through Raft with a
// consistency token, reads from the local store), with HTTP Basic and
// bearer-token authentication and the roles policy of api/roles; Mount
// puts them under /v1/. openapi.yaml describes every route and is served
// at /v1/openapi.yaml. Presence, line state, the monitor and the event
// stream (SSE) are served from the grains through PresenceService,
// LineService and EventHub, opened with a single-use ticket in browsers,
// and each stream ends as soon as its access ends (the directory's change
// feed, sessions.go); the web console (console/, embedded) is served
// at /, and GET /v1/me tells it which of its pages the caller may use.
// The LDAP sync routes (ldap.go) run a DirectorySyncService
// (ldapsync.Runner) and read its stored status; CheckUserRecord and its
// siblings (recordcheck.go) let other writers check records as the API
// would. docs/api.md explains the decisions.
package api
