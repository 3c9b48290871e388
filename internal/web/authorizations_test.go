package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

const secretValue = "Token sk_live_abcdef0123456789"

func headerAuthForm(endpoint, key, value, visibility string) url.Values {
	return url.Values{"name": {""}, "endpoint": {endpoint}, "type": {"header"}, "header.key": {key}, "header.value": {value}, "header.visibility": {visibility}}
}

func TestAuthorizations(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) storetest.UsersStore) {
		e := signedIn(t, options{store: open})
		res, body := e.get("/authorizations")
		e.status(res, http.StatusOK)
		contains(t, body, "No authorizations yet", "Add an authorization", `aria-current="page">Authorizations`)

		res, body = e.get("/authorizations/new")
		e.status(res, http.StatusOK)
		for _, name := range []string{"name", "endpoint", "type", "header.key", "header.value", "header.visibility", "basic.username", "basic.password"} {
			contains(t, body, `name="`+name+`"`)
		}
		contains(t, body, "Header authentication", "Basic authentication", "SECRET", "PUBLIC")

		// A SECRET header: saved, then shown only masked — on the list, the
		// edit form, everywhere.
		res, _ = e.post("/authorizations", headerAuthForm("https://api.crm.example.com", "Authorization", secretValue, "SECRET"))
		e.status(res, http.StatusSeeOther)
		res, body = e.follow(res)
		e.status(res, http.StatusOK)
		contains(t, body, "Authorization “api.crm.example.com” saved", "api.crm.example.com", "••••6789", "Secret · set")
		lacks(t, body, secretValue, "sk_live")
		list, _, _ := e.store.ListAuthorizations(context.Background(), e.ws, herald.AuthorizationFilter{})
		if len(list) != 1 || list[0].Header.Value != secretValue {
			t.Fatalf("stored: %+v", list)
		}
		id := list[0].ID
		res, body = e.get("/authorizations/" + id + "/edit")
		e.status(res, http.StatusOK)
		contains(t, body, "A secret value is set (••••6789)", "leave blank to keep")
		lacks(t, body, secretValue, "sk_live")

		// Saving with the value left blank keeps the secret.
		f := headerAuthForm("https://api.crm.example.com", "X-Api-Key", "", "SECRET")
		f.Set("name", "CRM")
		res, _ = e.post("/authorizations/"+id, f)
		e.status(res, http.StatusSeeOther)
		a, _ := e.store.Authorization(context.Background(), e.ws, id)
		if a.Name != "CRM" || a.Header.Key != "X-Api-Key" || a.Header.Value != secretValue {
			t.Fatalf("after edit: %+v %+v", a, a.Header)
		}
		// A PUBLIC value is shown back.
		f = headerAuthForm("https://api.crm.example.com", "X-Client", "public-client-id", "PUBLIC")
		f.Set("name", "CRM")
		res, _ = e.post("/authorizations/"+id, f)
		e.status(res, http.StatusSeeOther)
		_, body = e.get("/authorizations/" + id + "/edit")
		contains(t, body, `value="public-client-id"`)

		// Switching to basic needs a password (the header secret is not reused).
		res, body = e.post("/authorizations/"+id, url.Values{"name": {"CRM"}, "endpoint": {"https://api.crm.example.com"}, "type": {"basic"}, "basic.username": {"herald"}})
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, "basic.password", "is required")
		contains(t, body, `value="herald"`)
		res, _ = e.post("/authorizations/"+id, url.Values{"name": {"CRM"}, "endpoint": {"https://api.crm.example.com"}, "type": {"basic"},
			"basic.username": {"herald"}, "basic.password": {"pa55word-for-crm"}})
		e.status(res, http.StatusSeeOther)
		_, body = e.get("/authorizations")
		contains(t, body, "Basic", "herald", "Password · set")
		lacks(t, body, "pa55word-for-crm")
		_, body = e.get("/authorizations/" + id + "/edit")
		lacks(t, body, "pa55word-for-crm")
		contains(t, body, "Leave blank to keep the current one")

		// Filter by name.
		e.post("/authorizations", headerAuthForm("https://hooks.slack.example.com", "X-Token", "slack-token-value", "SECRET"))
		_, body = e.get("/authorizations?name=slack")
		contains(t, body, "hooks.slack.example.com")
		lacks(t, body, ">CRM<")
		_, body = e.get("/authorizations?name=nothing-like-it")
		contains(t, body, "No authorization matches “nothing-like-it”")

		// In use: deleting is refused with the reason.
		wh, _, err := e.svc.CreateWebhook(context.Background(), e.ws, herald.WebhookSpec{Name: "uses crm", Event: "member.verified", AuthorizationEnabled: true,
			AuthorizationID: id, EndpointURL: "https://api.crm.example.com/in", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		res, body = e.get("/authorizations/" + id + "/delete")
		e.status(res, http.StatusOK)
		contains(t, body, "Delete the authorization “CRM”?")
		res, _ = e.post("/authorizations/"+id+"/delete", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "“CRM” was not deleted", "used by 1 webhook")
		// Moving the endpoint away from a webhook using it is refused.
		res, body = e.post("/authorizations/"+id, url.Values{"name": {"CRM"}, "endpoint": {"https://other.example.com"}, "type": {"basic"}, "basic.username": {"herald"}})
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, "endpoint", "would no longer cover")
		e.svc.DeleteWebhook(context.Background(), e.ws, wh.ID)
		res, _ = e.post("/authorizations/"+id+"/delete", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "Authorization “CRM” deleted.")
		res, _ = e.get("/authorizations/" + id + "/edit")
		e.status(res, http.StatusNotFound)
	})
}

func TestAuthorizationValidation(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	e.get("/authorizations/new")
	cases := []struct {
		name  string
		form  url.Values
		field string
		msg   string
	}{
		{"no endpoint", headerAuthForm("", "X-Key", "v", "SECRET"), "endpoint", "is required"},
		{"endpoint not http", headerAuthForm("ftp://files.example.com", "X-Key", "v", "SECRET"), "endpoint", "http:// or https://"},
		{"endpoint with user", headerAuthForm("https://u:p@api.example.com", "X-Key", "v", "SECRET"), "endpoint", "user or password"},
		{"name too long", func() url.Values {
			f := headerAuthForm("https://api.example.com", "X-Key", "v", "SECRET")
			f.Set("name", strings.Repeat("n", 201))
			return f
		}(), "name", "at most 200"},
		{"no type", url.Values{"endpoint": {"https://api.example.com"}}, "type", "is required"},
		{"bad type", url.Values{"endpoint": {"https://api.example.com"}, "type": {"oauth"}}, "type", "must be header, basic, bearer, query or oauth2_client_credentials"},
		{"no header key", headerAuthForm("https://api.example.com", "", "v", "SECRET"), "header.key", "is required"},
		{"bad header key", headerAuthForm("https://api.example.com", "X Key", "v", "SECRET"), "header.key", "not a valid header name"},
		{"framing header key", headerAuthForm("https://api.example.com", "Host", "v", "SECRET"), "header.key", "cannot carry a credential"},
		{"no header value", headerAuthForm("https://api.example.com", "X-Key", "", "SECRET"), "header.value", "is required"},
		{"header value newline", headerAuthForm("https://api.example.com", "X-Key", "a\nb", "SECRET"), "header.value", "line breaks"},
		{"bad visibility", headerAuthForm("https://api.example.com", "X-Key", "v", "HIDDEN"), "header.visibility", "SECRET or PUBLIC"},
		{"no username", url.Values{"endpoint": {"https://api.example.com"}, "type": {"basic"}, "basic.password": {"pw"}}, "basic.username", "is required"},
		{"colon username", url.Values{"endpoint": {"https://api.example.com"}, "type": {"basic"}, "basic.username": {"a:b"}, "basic.password": {"pw"}}, "basic.username", "colon"},
		{"no password", url.Values{"endpoint": {"https://api.example.com"}, "type": {"basic"}, "basic.username": {"u"}}, "basic.password", "is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := e.post("/authorizations", c.form)
			e.status(res, http.StatusUnprocessableEntity)
			contains(t, body, "Please correct the fields marked below.")
			fieldError(t, body, c.field, c.msg)
			// A SECRET value typed into a failed form is not sent back.
			if v := c.form.Get("header.value"); v != "" && len(v) > 2 {
				lacks(t, body, `value="`+v+`"`)
			}
		})
	}
	list, _, _ := e.store.ListAuthorizations(context.Background(), e.ws, herald.AuthorizationFilter{})
	if len(list) != 0 {
		t.Fatalf("invalid forms stored %d authorizations", len(list))
	}
	res, _ := e.get("/authorizations/NOTANID/edit")
	e.status(res, http.StatusNotFound)
	res, _ = e.post("/authorizations/"+herald.NewID(), headerAuthForm("https://api.example.com", "X-Key", "v", "SECRET"))
	e.status(res, http.StatusNotFound)
}

// TestAuthorizationInUseBy: the authorization's page lists, with links,
// the webhooks that use it, also after a failed save.
func TestAuthorizationInUseBy(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	ctx := context.Background()
	a := e.createAuth("https://api.crm.example.com")
	spare := e.createAuth("https://api.other.example.com")
	var users []*herald.Webhook
	for _, name := range []string{"Zeta sync", "Alpha sync"} {
		wh, fe, err := e.svc.CreateWebhook(ctx, e.ws, herald.WebhookSpec{Name: name, Event: "member.verified", AuthorizationEnabled: true, AuthorizationID: a.ID,
			EndpointURL: "https://api.crm.example.com/in", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"})
		if err != nil || len(fe) > 0 {
			t.Fatal(err, fe)
		}
		users = append(users, wh)
	}
	other := e.webhook("Not a user")
	_, body := e.get("/authorizations/" + a.ID + "/edit")
	contains(t, body, "In use by", `<a href="/webhooks/`+users[0].ID+`">Zeta sync</a>`, `<a href="/webhooks/`+users[1].ID+`">Alpha sync</a>`)
	lacks(t, body, other.ID, "No webhook uses this authorization")
	if strings.Index(body, "Alpha sync") > strings.Index(body, "Zeta sync") {
		t.Error("users not sorted by name")
	}
	_, body = e.get("/authorizations/" + spare.ID + "/edit")
	contains(t, body, "In use by", "No webhook uses this authorization")
	// A refused save (the endpoint would no longer cover the users) keeps the list.
	form := headerAuthForm("https://elsewhere.example.com", "X-Api-Key", "", "SECRET")
	form.Set("name", "CRM")
	res, body := e.post("/authorizations/"+a.ID, form)
	e.status(res, http.StatusUnprocessableEntity)
	contains(t, body, "would no longer cover webhooks", `<a href="/webhooks/`+users[0].ID+`">Zeta sync</a>`)
}
