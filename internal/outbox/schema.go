// Package outbox reads a herald source from a transactional outbox: a
// table in the platform's own PostgreSQL database into which the platform
// inserts each event in the same transaction as the business change it
// announces. Nothing the platform commits is lost between "the member was
// verified" and "the webhook was sent": the row stays until herald has
// committed the event (and its deliveries) in its own store, and only
// then is it deleted.
//
// Schema prints the table herald reads; Consumer is the source.Consumer.
package outbox

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultTable is the outbox table's name when none is given.
const DefaultTable = "herald_outbox"

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ValidTable reports whether name can be an outbox table: an SQL
// identifier (letters, digits, underscores; at most 63 characters),
// optionally qualified by a schema ("app.herald_outbox") — the rule
// herald.Service checks when a source is saved. herald always quotes
// the name, so it is case-sensitive: "Outbox" is not "outbox".
func ValidTable(name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("table %q: at most a schema and a table name, as schema.table", name)
	}
	for _, p := range parts {
		if !identRe.MatchString(p) {
			return fmt.Errorf("table %q: must be an SQL identifier (letters, digits, _; not starting with a digit; at most 63 characters), optionally schema.table", name)
		}
	}
	return nil
}

// quoted returns the table's name quoted for SQL ("app"."herald_outbox").
func quoted(table string) string {
	return pgx.Identifier(strings.Split(table, ".")).Sanitize()
}

// Channel is the LISTEN/NOTIFY channel of an outbox table: its name as
// given. herald listens on it; the trigger Schema prints notifies it.
func Channel(table string) string { return table }

// Schema returns the DDL of an outbox table named table (DefaultTable
// when empty): the table, the optional trigger that wakes herald at once,
// and, as a comment, the INSERT a platform makes in its transaction.
func Schema(table string) (string, error) {
	if table == "" {
		table = DefaultTable
	}
	if err := ValidTable(table); err != nil {
		return "", err
	}
	q := quoted(table)
	parts := strings.Split(table, ".")
	fn := parts[len(parts)-1] + "_notify"
	if len(parts) == 2 {
		fn = parts[0] + "." + fn
	}
	fnq := quoted(fn)
	lit := "'" + Channel(table) + "'" // a valid identifier holds no quote
	return fmt.Sprintf(`-- herald's outbox table (printed by: herald outbox schema --table %[1]s).
-- Create it in the platform's own database. herald reads the rows in id
-- order, turns each into an event, and deletes it only after the event and
-- its deliveries are committed in herald's store. Several herald processes
-- may read one table: each takes rows the others have not locked
-- (SELECT ... FOR UPDATE SKIP LOCKED). The primary key is the only index
-- herald needs.
CREATE TABLE IF NOT EXISTS %[2]s (
    id         bigserial PRIMARY KEY,            -- the message id (idempotency key: %[1]s:<id>)
    event_type text NOT NULL,                    -- exposed as the header event_type
    payload    jsonb NOT NULL,                   -- the event's data (mapping data_from: body)
    headers    jsonb,                            -- optional: an object of strings, exposed as headers
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Optional: wake herald as soon as a transaction with new rows commits,
-- instead of at its next poll (every 200 ms).
CREATE OR REPLACE FUNCTION %[3]s() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(%[4]s, '');
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS herald_notify ON %[2]s;
CREATE TRIGGER herald_notify AFTER INSERT ON %[2]s
    FOR EACH STATEMENT EXECUTE FUNCTION %[3]s();

-- What the platform does, in the same transaction as its change:
--   BEGIN;
--   UPDATE members SET verified_at = now() WHERE id = 'm-1';
--   INSERT INTO %[2]s (event_type, payload)
--       VALUES ('member.verified', '{"member": {"id": "m-1"}}');
--   COMMIT;
-- and the source's mapping: {"type_from": "header:event_type",
-- "data_from": "body", "id_from": "message_id"}.
`, table, q, fnq, lit), nil
}
