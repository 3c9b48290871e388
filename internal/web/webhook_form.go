package web

import (
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// This file reads the webhook form into a herald.WebhookSpec; what it
// cannot parse it passes on in a form the service refuses with its own
// message and field name, so every error shows next to its field.

var headerField = regexp.MustCompile(`^custom_headers\[(\d{1,4})\]\.(name|value)$`)

// parseWebhookForm reads the form into a spec. Header rows are read in
// index order and blank rows dropped, so the indexes of the re-rendered
// rows match those in the service's errors (custom_headers[1].name).
func parseWebhookForm(form url.Values) (herald.WebhookSpec, int) {
	spec := herald.WebhookSpec{
		Name: form.Get("name"), Description: form.Get("description"), Event: form.Get("event"),
		AuthorizationEnabled: checked(form.Get("authorization_enabled")), AuthorizationID: form.Get("authorization_id"),
		EndpointURL: form.Get("endpoint_url"), Method: form.Get("method"), LogOnlyErrors: checked(form.Get("log_only_errors")),
		PayloadType: herald.PayloadType(form.Get("payload_type")), Payload: strings.ReplaceAll(form.Get("payload"), "\r\n", "\n"),
	}
	// events: the multi-select's keys and patterns, then patterns typed in
	// (comma-separated); event, the single select of older forms, still works.
	for _, e := range form["events"] {
		if e = strings.TrimSpace(e); e != "" {
			spec.Events = append(spec.Events, e)
		}
	}
	for _, e := range strings.Split(form.Get("events_other"), ",") {
		if e = strings.TrimSpace(e); e != "" && !slices.Contains(spec.Events, e) {
			spec.Events = append(spec.Events, e)
		}
	}
	spec.Condition = strings.ReplaceAll(form.Get("condition"), "\r\n", "\n")
	spec.SuccessCondition = strings.ReplaceAll(form.Get("success_condition"), "\r\n", "\n")
	for _, st := range strings.Split(form.Get("success_statuses"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			spec.SuccessStatuses = append(spec.SuccessStatuses, st)
		}
	}
	spec.Ordered = checked(form.Get("ordered"))
	if t := strings.TrimSpace(form.Get("timeout_seconds")); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			n = -1 // refused by validation with the allowed range
		}
		spec.TimeoutSeconds = n
	}
	if v := strings.TrimSpace(form.Get("log_body_bytes")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1 // refused by validation with the allowed range
		}
		spec.LogBodyBytes = &n
	}
	for _, d := range strings.Split(form.Get("retry_schedule"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			spec.RetrySchedule = append(spec.RetrySchedule, d)
		}
	}
	rows := map[int]*herald.Header{}
	for key, vals := range form {
		m := headerField.FindStringSubmatch(key)
		if m == nil || len(vals) == 0 {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		h := rows[i]
		if h == nil {
			h = &herald.Header{}
			rows[i] = h
		}
		if m[2] == "name" {
			h.Name = vals[0]
		} else {
			h.Value = vals[0]
		}
	}
	idx := make([]int, 0, len(rows))
	for i := range rows {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	spec.CustomHeaders = []herald.Header{}
	for _, i := range idx {
		if h := rows[i]; strings.TrimSpace(h.Name) != "" || h.Value != "" {
			spec.CustomHeaders = append(spec.CustomHeaders, *h)
		}
	}
	rev, _ := strconv.Atoi(form.Get("revision"))
	return spec, rev
}

func checked(v string) bool { return v == "on" || v == "true" || v == "1" }
