// Package herald holds herald's domain: workspaces, authorizations,
// webhooks, the event catalog, their validation rules, the error type the
// HTTP layers map to status codes, and the Store interface that the storage
// packages implement. It imports no database or HTTP code, so every other
// package can depend on it and it depends on none of them.
package herald
