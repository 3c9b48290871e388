package web_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/web"
)

// serve always provides every dependency, so New refuses to build a UI
// without one instead of each handler checking for nil.
func TestNewRequiresEveryDependency(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	full := testDeps(st, herald.NewService(st, nil))
	if _, err := web.New(web.Config{}, full); err != nil {
		t.Fatalf("all dependencies given: %v", err)
	}
	for name, drop := range map[string]func(*web.Deps){
		"Service":    func(d *web.Deps) { d.Service = nil },
		"Users":      func(d *web.Deps) { d.Users = nil },
		"Deliveries": func(d *web.Deps) { d.Deliveries = nil },
		"Control":    func(d *web.Deps) { d.Control = nil },
		"Previewer":  func(d *web.Deps) { d.Previewer = nil },
		"Events":     func(d *web.Deps) { d.Events = nil },
		"Endpoints":  func(d *web.Deps) { d.Endpoints = nil },
		"Secrets":    func(d *web.Deps) { d.Secrets = nil },
	} {
		d := full
		drop(&d)
		_, err := web.New(web.Config{}, d)
		if err == nil || !strings.Contains(err.Error(), "Deps."+name+" is required") {
			t.Errorf("without %s: err = %v, want it named", name, err)
		}
	}
}
