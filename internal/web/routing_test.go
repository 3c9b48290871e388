package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// The form offers event types and patterns, a condition whose preview
// says whether the sample would be sent, and success settings; errors
// show next to their fields; the list shows each webhook's types and
// whether a condition is set.
func TestRoutingForm(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	e.svc.Templates = payload.Checker{}
	res, body := e.get("/webhooks/new")
	e.status(res, http.StatusOK)
	contains(t, body, `name="events"`, `multiple`, `value="member.*"`, `value="*"`, `name="condition"`, `name="success_statuses"`, `name="success_condition"`)

	f := fullWebhookForm("")
	f.Del("authorization_enabled")
	f.Del("event")
	f["events"] = []string{"member.verified", "coupon.*"}
	f.Set("condition", `member.email == "nobody@example.com"`)
	f.Set("action", "preview")
	_, body = e.post("/webhooks", f)
	contains(t, body, "The sample would be skipped", "the condition gave false")
	f.Set("condition", `member.email ends with "@example.com"`)
	_, body = e.post("/webhooks", f)
	contains(t, body, "The sample would be sent", "the condition holds")

	f.Set("action", "save")
	f.Set("condition", "member.email ==")
	f.Set("success_statuses", "200, 2xx, 9xx")
	res, body = e.post("/webhooks", f)
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "success_statuses[2]", "not a status code")
	f.Set("success_statuses", "200, 201-204")
	res, body = e.post("/webhooks", f)
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "condition", "")
	f["events"] = []string{"member.verified", "member.verifed"}
	f.Set("condition", "")
	res, body = e.post("/webhooks", f)
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "events[1]", `did you mean "member.verified"`)

	f["events"] = []string{"member.verified"}
	f.Set("events_other", "coupon.*")
	f.Set("condition", `member.tier == "gold"`)
	f.Set("success_condition", "response.json.ok == true")
	res, _ = e.post("/webhooks", f)
	e.status(res, http.StatusSeeOther)
	hooks, _, err := e.store.ListWebhooks(context.Background(), e.ws, herald.WebhookFilter{})
	if err != nil || len(hooks) != 1 {
		t.Fatalf("webhooks %v %v", hooks, err)
	}
	w := hooks[0]
	if len(w.Events) != 2 || w.Events[0] != "member.verified" || w.Events[1] != "coupon.*" || w.Condition != `member.tier == "gold"` ||
		w.SuccessStatuses.String() != "200,201-204" || w.SuccessCondition != "response.json.ok == true" {
		t.Fatalf("saved %+v", w.WebhookSpec)
	}
	_, body = e.get("/webhooks")
	contains(t, body, "User - User Was Verified", "coupon.*", `>condition</span>`)
	_, body = e.get("/webhooks/" + w.ID + "/edit")
	contains(t, body, `value="coupon.*"`, `member.tier == "gold"`)
}
