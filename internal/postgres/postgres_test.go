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
