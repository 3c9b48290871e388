package postgres_test

import (
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) herald.Store { return storetest.OpenPostgres(t) })
}
