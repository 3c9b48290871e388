package postgres_test

import (
	"testing"

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
