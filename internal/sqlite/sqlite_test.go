package sqlite_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) herald.Store { return storetest.OpenSQLite(t) })
}

func TestUsersConformance(t *testing.T) {
	storetest.RunUsers(t, func(t testing.TB) storetest.UsersStore { return storetest.OpenSQLite(t) })
}

func TestQueueConformance(t *testing.T) {
	storetest.RunQueue(t, func(t testing.TB) storetest.QueueStore { return storetest.OpenSQLite(t) }, nil)
}

func TestPortalConformance(t *testing.T) {
	storetest.RunPortal(t, func(t testing.TB) storetest.PortalStore { return storetest.OpenSQLite(t) })
}

func TestSourcesConformance(t *testing.T) {
	storetest.RunSources(t, func(t testing.TB) storetest.SourcesStore { return storetest.OpenSQLite(t) })
}

func TestTenantsConformance(t *testing.T) {
	storetest.RunTenants(t, func(t testing.TB) storetest.TenantsStore { return storetest.OpenSQLite(t) })
}

func BenchmarkQueue(b *testing.B) {
	storetest.BenchQueue(b, func(t testing.TB) storetest.QueueStore { return storetest.OpenSQLite(t) })
}
