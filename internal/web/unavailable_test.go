package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/sqlstore"
)

// A form saved while the database cannot take writes (a real SQLITE_FULL)
// answers the error page with 503 and Retry-After, as the API does — not
// 400 with the driver's message.
func TestFormWhileDatabaseIsFull(t *testing.T) {
	e := signedIn(t)
	db := e.store.(*sqlstore.Store).DB()
	var pages int
	if err := db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)); err != nil {
		t.Fatal(err)
	}
	defer db.Exec(`PRAGMA max_page_count = 1073741823`)
	value := strings.Repeat("v", 3000)
	for i := 0; i < 200; i++ {
		e.get("/authorizations/new")
		res, body := e.post("/authorizations", headerAuthForm(fmt.Sprintf("https://api%d.example.com", i), "X-Key", value, "PUBLIC"))
		if res.StatusCode == http.StatusSeeOther {
			continue
		}
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "2" {
			t.Fatalf("authorization %d: status %d, Retry-After %q\n%s", i, res.StatusCode, res.Header.Get("Retry-After"), excerpt(body))
		}
		contains(t, body, "The database is unavailable, so nothing was changed")
		lacks(t, body, "full", "SQLITE", "(13)")
		return
	}
	t.Fatal("200 authorizations saved: max_page_count did not fill the database")
}
