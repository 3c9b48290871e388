package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) herald.Store { return storetest.OpenPostgres(t) })
}

func TestUsersConformance(t *testing.T) {
	storetest.RunUsers(t, func(t testing.TB) storetest.UsersStore { return storetest.OpenPostgres(t) })
}

func TestSourcesConformance(t *testing.T) {
	storetest.RunSources(t, func(t testing.TB) storetest.SourcesStore { return storetest.OpenPostgres(t) })
}

func TestQueueConformance(t *testing.T) {
	storetest.RunQueue(t, func(t testing.TB) storetest.QueueStore { return storetest.OpenPostgres(t) },
		func(t testing.TB) (storetest.QueueStore, storetest.QueueStore) {
			url := storetest.PostgresURL(t)
			return storetest.OpenPostgresURL(t, url), storetest.OpenPostgresURL(t, url)
		})
}

// An ingest in one process wakes the others at once (LISTEN/NOTIFY), not
// at their next poll.
func TestIngestNotifiesOtherProcesses(t *testing.T) {
	url := storetest.PostgresURL(t)
	a, b := storetest.OpenPostgresURL(t, url), storetest.OpenPostgresURL(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	woken := make(chan struct{}, 16)
	go b.ListenForWork(ctx, func() { woken <- struct{}{} })
	select { // the first wake says the listener is up
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not start")
	}
	ws, err := a.EnsureWorkspace(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ev := &herald.Event{ID: herald.NewID(), WorkspaceID: ws.ID, Type: "member.verified", OccurredAt: now, ReceivedAt: now, RawData: []byte(`{}`)}
	if err := a.Ingest(ctx, []*herald.IngestRequest{{Event: ev}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("the other process was not notified of the ingest")
	}
}

// Where the server's autovacuum is off (as on the test machines), the
// store vacuums and analyzes the queue's tables itself (without fresh
// statistics a plan cached on a nearly empty table stays); where it is on, it leaves
// them to the server.
func TestStoreVacuumsWhenAutovacuumIsOff(t *testing.T) {
	s := storetest.OpenPostgres(t)
	var off bool
	if err := s.DB().QueryRow(`SELECT current_setting('autovacuum') = 'off'`).Scan(&off); err != nil {
		t.Fatal(err)
	}
	lastVacuum := func() bool {
		var n int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM pg_stat_user_tables WHERE schemaname = current_schema()
			AND relname IN ('deliveries', 'attempts', 'events') AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 3
	}
	if lastVacuum() {
		t.Fatal("vacuumed before anything asked")
	}
	if _, err := s.ReclaimSpace(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second) // statistics arrive shortly after
	for off && !lastVacuum() {
		if time.Now().After(deadline) {
			t.Fatal("autovacuum is off and the store did not vacuum and analyze its tables")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !off && lastVacuum() {
		t.Fatal("autovacuum is on, yet the store vacuumed")
	}
}

func TestPortalConformance(t *testing.T) {
	storetest.RunPortal(t, func(t testing.TB) storetest.PortalStore { return storetest.OpenPostgres(t) })
}

func TestTenantsConformance(t *testing.T) {
	storetest.RunTenants(t, func(t testing.TB) storetest.TenantsStore { return storetest.OpenPostgres(t) })
}

func BenchmarkQueue(b *testing.B) {
	storetest.BenchQueue(b, func(t testing.TB) storetest.QueueStore { return storetest.OpenPostgres(t) })
}
