// Package sqlstore implements herald.Store once, over database/sql, for
// every SQL dialect herald supports. The dialect packages (internal/sqlite,
// internal/postgres) open the connections, own their migrations and turn
// driver errors into herald errors; the queries here are written in the
// common subset of SQLite and PostgreSQL, with "?" placeholders rebound to
// "$n" for PostgreSQL once per query text.
//
// Times are stored as Unix microseconds (BIGINT) in both dialects: one
// encoding, exact ordering, and no time-zone conversion in either driver.
package sqlstore
