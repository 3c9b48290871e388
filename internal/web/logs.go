package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// timeInput is the format of <input type="datetime-local">; the Logs
// filters are in UTC, and the page says so.
const timeInput = "2006-01-02T15:04"

type logsPage struct {
	*webhookPage
	// Replayable: failed deliveries in the range, so Replay is offered.
	Replayable bool
	Attempts   []*herald.Attempt
	// Events holds the summary of each listed attempt's event, by id.
	Events    map[string]string
	Outcome   string
	Since     string
	Until     string
	Filtered  bool
	Next      string
	Chart     template.HTML
	Successes int
	Failures  int
}

func (s *Server) showLogs(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	wp, err := s.webhookPageData(r, wh)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wp.Tab = "logs"
	p := &logsPage{webhookPage: wp}
	v := &view{Title: wh.Name + " — Logs", Section: "webhooks", D: p}
	q := r.URL.Query()
	f := herald.AttemptFilter{Limit: 50}
	errs := map[string]string{}
	switch o := herald.Outcome(q.Get("outcome")); o {
	case herald.OutcomeSuccess, herald.OutcomeFailure:
		f.Outcome, p.Outcome = o, string(o)
	case "":
	default:
		errs["outcome"] = "must be success or failure"
	}
	p.Since, p.Until = q.Get("since"), q.Get("until")
	if p.Since != "" {
		if t, err := time.Parse(timeInput, p.Since); err == nil {
			f.Since = t
		} else {
			errs["since"] = "is not a date and time (YYYY-MM-DDTHH:MM, UTC)"
		}
	}
	if p.Until != "" {
		if t, err := time.Parse(timeInput, p.Until); err == nil {
			f.Until = t
		} else {
			errs["until"] = "is not a date and time (YYYY-MM-DDTHH:MM, UTC)"
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs["until"] = "must be after “from”"
	}
	if c := q.Get("cursor"); herald.ValidID(c) {
		f.Cursor = c
	}
	p.Filtered = p.Outcome != "" || p.Since != "" || p.Until != ""
	status := http.StatusOK
	if len(errs) > 0 {
		v.Errors, v.FormError, status = errs, "Please correct the filters marked below.", http.StatusUnprocessableEntity
	} else {
		list, next, err := s.reader.ListAttempts(r.Context(), workspace(r), wh.ID, f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p.Attempts = list
		if p.Events, err = s.eventSummaries(r, list); err != nil {
			s.fail(w, r, err)
			return
		}
		if next != "" {
			nq := url.Values{}
			for _, k := range []string{"outcome", "since", "until"} {
				if v := q.Get(k); v != "" {
					nq.Set(k, v)
				}
			}
			nq.Set("cursor", next)
			p.Next = "/webhooks/" + wh.ID + "/logs?" + nq.Encode()
		}
	}
	now := s.now().UTC()
	since := now.Truncate(time.Hour).Add(-23 * time.Hour)
	stats, err := s.reader.AttemptStats(r.Context(), workspace(r), wh.ID, since)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.Chart, p.Successes, p.Failures = chartSVG(stats, since)
	if len(errs) == 0 {
		rs, ru, err := s.replayRange(q.Get)
		if err == nil {
			n, more, err := s.countReplayable(r, wh.ID, rs, ru)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			p.Replayable = n > 0 || more
		}
	}
	s.render(w, r, status, "logs", v)
}

// chartSVG draws hourly successes and failures over 24 hours as stacked
// bars. Only numbers and fixed text go into it, so it is safe as HTML.
func chartSVG(stats []herald.AttemptStats, since time.Time) (template.HTML, int, int) {
	const hours, barW, gap, height, top, bottom = 24, 20, 4, 100, 4, 2
	var succ, fail [hours]int
	tot := [2]int{}
	for _, st := range stats {
		i := int(st.Hour.UTC().Truncate(time.Hour).Sub(since) / time.Hour)
		if i < 0 || i >= hours {
			continue
		}
		succ[i] += st.Successes
		fail[i] += st.Failures
		tot[0] += st.Successes
		tot[1] += st.Failures
	}
	peak := 1
	for i := range hours {
		peak = max(peak, succ[i]+fail[i])
	}
	width := hours * (barW + gap)
	plot := float64(height - top - bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title" preserveAspectRatio="none">`, width, height)
	fmt.Fprintf(&b, `<title id="chart-title">Attempts per hour over the last 24 hours: %d succeeded, %d failed</title>`, tot[0], tot[1])
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" class="axis"/>`, height-bottom, width, height-bottom)
	for i := range hours {
		x := i * (barW + gap)
		hour := since.Add(time.Duration(i) * time.Hour)
		sh := float64(succ[i]) / float64(peak) * plot
		fh := float64(fail[i]) / float64(peak) * plot
		base := float64(height - bottom)
		fmt.Fprintf(&b, `<g><title>%s UTC: %d succeeded, %d failed</title>`, hour.Format("15:00"), succ[i], fail[i])
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="slot"/>`, x, top, barW, height-top-bottom)
		if sh > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" class="ok"/>`, x, base-sh, barW, sh)
		}
		if fh > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" class="bad"/>`, x, base-sh-fh, barW, fh)
		}
		b.WriteString(`</g>`)
	}
	// Hour labels are HTML below the chart, so they do not stretch with it.
	b.WriteString(`</svg><div class="ticks" aria-hidden="true">`)
	for i := range hours {
		b.WriteString(`<span>`)
		if i%6 == 0 {
			b.WriteString(since.Add(time.Duration(i) * time.Hour).Format("15:00"))
		}
		b.WriteString(`</span>`)
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String()), tot[0], tot[1]
}

type attemptPage struct {
	*webhookPage
	A        *herald.Attempt
	Delivery *herald.Delivery
}

// CanRetry says whether Retry makes sense: a delivery that succeeded is
// sent again with Resend (a new delivery), not retried.
func (p *attemptPage) CanRetry() bool {
	return p.A.DeliveryID != "" && (p.Delivery == nil || p.Delivery.Status != herald.DeliverySucceeded)
}

// eventsByID is the store's batch read of events (the stores have it);
// without it the UI reads the listed events one by one.
type eventsByID interface {
	EventsByID(ctx context.Context, ids []string) (map[string]*herald.Event, error)
}

// eventSummaries reads the events of the listed attempts once each and
// summarizes their subject ("member a@example.com"); an event purged by
// retention has no summary.
func (s *Server) eventSummaries(r *http.Request, list []*herald.Attempt) (map[string]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, a := range list {
		if a.EventID != "" && !seen[a.EventID] {
			seen[a.EventID] = true
			ids = append(ids, a.EventID)
		}
	}
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	events := map[string]*herald.Event{}
	if b, ok := s.reader.(eventsByID); ok {
		m, err := b.EventsByID(r.Context(), ids)
		if err != nil {
			return nil, err
		}
		events = m
	} else {
		for _, id := range ids {
			ev, err := s.reader.Event(r.Context(), workspace(r), id)
			if herald.ErrorCodeOf(err) == herald.ENotFound {
				continue
			}
			if err != nil {
				return nil, err
			}
			events[id] = ev
		}
	}
	for id, ev := range events {
		if ev != nil && ev.WorkspaceID == workspace(r) {
			out[id] = eventSummary(ev.Data)
		}
	}
	return out, nil
}

// eventSummary names an event's subject from its data: the email, else the
// id, of member (first) or of another top-level object, e.g.
// "member a@example.com"; "" when the data has none.
func eventSummary(data map[string]any) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		if k != "member" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if _, ok := data["member"]; ok {
		keys = append([]string{"member"}, keys...)
	}
	for _, k := range keys {
		obj, ok := data[k].(map[string]any)
		if !ok {
			continue
		}
		for _, f := range []string{"email", "id"} {
			switch v := obj[f].(type) {
			case string:
				if v != "" {
					return k + " " + v
				}
			case json.Number:
				return k + " " + v.String()
			case float64:
				return k + " " + strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	return ""
}

type eventPage struct {
	*webhookPage
	E    *herald.Event
	JSON string
	// Summary is the event's subject, as on the Logs rows.
	Summary string
}

// showEvent shows one event and its data, linked from the Logs rows.
func (s *Server) showEvent(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	id, err := pathID(r, "event")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ev, err := s.reader.Event(r.Context(), workspace(r), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wp, err := s.webhookPageData(r, wh)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wp.Tab = "logs"
	var buf bytes.Buffer
	raw := ev.RawData
	if len(raw) == 0 {
		raw, _ = json.Marshal(ev.Data)
	}
	if json.Indent(&buf, raw, "", "  ") != nil {
		buf.Reset()
		buf.Write(raw)
	}
	p := &eventPage{webhookPage: wp, E: ev, JSON: buf.String(), Summary: eventSummary(ev.Data)}
	s.render(w, r, http.StatusOK, "event", &view{Title: "Event " + ev.Type + " — " + wh.Name, Section: "webhooks", D: p})
}

func (s *Server) showAttempt(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	id, err := pathID(r, "attempt")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.reader.Attempt(r.Context(), workspace(r), id)
	if err == nil && a.WebhookID != wh.ID {
		err = herald.ErrNotFound
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wp, err := s.webhookPageData(r, wh)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wp.Tab = "logs"
	p := &attemptPage{webhookPage: wp, A: a}
	if a.DeliveryID != "" {
		d, err := s.reader.Delivery(r.Context(), workspace(r), a.DeliveryID)
		if err != nil && herald.ErrorCodeOf(err) != herald.ENotFound {
			s.fail(w, r, err)
			return
		}
		p.Delivery = d
	}
	s.render(w, r, http.StatusOK, "attempt", &view{Title: "Attempt " + fmt.Sprint(a.Number) + " — " + wh.Name, Section: "webhooks", D: p})
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request) {
	s.deliveryAction(w, r, func(ws, webhookID string) (string, error) {
		id, err := pathID(r, "delivery")
		if err != nil {
			return "", err
		}
		d, err := s.reader.Delivery(r.Context(), ws, id)
		if err != nil {
			return "", err
		}
		if d.WebhookID != webhookID {
			return "", herald.ErrNotFound
		}
		if _, err := s.control.RetryDelivery(r.Context(), ws, id); err != nil {
			return "", err
		}
		return "The delivery is queued for another attempt now. Reload the logs in a moment to see it.", nil
	})
}

func (s *Server) resendEvent(w http.ResponseWriter, r *http.Request) {
	s.deliveryAction(w, r, func(ws, webhookID string) (string, error) {
		id, err := pathID(r, "event")
		if err != nil {
			return "", err
		}
		if _, err := s.control.ResendEvent(r.Context(), ws, id, webhookID); err != nil {
			return "", err
		}
		return "The event is sent again as a new delivery. Reload the logs in a moment to see it.", nil
	})
}

// replayFailed makes every failed delivery of the webhook created in the
// chosen range pending again (D4). Without a range: the last 24 hours.
// replayRange reads the replay's "since" and "until" (UTC, the Logs
// filters); empty means the last 24 hours.
func (s *Server) replayRange(get func(string) string) (since, until time.Time, err error) {
	until = s.now().UTC()
	since = until.Add(-24 * time.Hour)
	var v herald.Validation
	if raw := get("since"); raw != "" {
		t, err := time.Parse(timeInput, raw)
		if err != nil {
			v.Add("since", "is not a date and time (YYYY-MM-DDTHH:MM, UTC)")
		}
		since = t
	}
	if raw := get("until"); raw != "" {
		t, err := time.Parse(timeInput, raw)
		if err != nil {
			v.Add("until", "is not a date and time (YYYY-MM-DDTHH:MM, UTC)")
		}
		until = t
	}
	if len(v.Fields) == 0 && !until.After(since) {
		v.Add("until", "must be after “from”")
	}
	if err := v.Err(); err != nil {
		return since, until, &herald.Error{Code: herald.EInvalid, Message: "Nothing was replayed: " + v.Fields[0].Field + " " + v.Fields[0].Message}
	}
	return since, until, nil
}

// replayScanLimit bounds how many failed deliveries countReplayable reads.
const replayScanLimit = 1000

// countReplayable counts the webhook's failed deliveries created in
// [since, until), reading at most replayScanLimit of them; more is true when
// it stopped there (the count is then a lower bound).
func (s *Server) countReplayable(r *http.Request, webhookID string, since, until time.Time) (n int, more bool, err error) {
	f := herald.DeliveryFilter{Status: herald.DeliveryFailed, Limit: 200}
	for read := 0; ; {
		list, next, err := s.reader.ListDeliveries(r.Context(), workspace(r), webhookID, f)
		if err != nil {
			return 0, false, err
		}
		for _, d := range list {
			if !d.CreatedAt.Before(since) && d.CreatedAt.Before(until) {
				n++
			}
		}
		read += len(list)
		if next == "" {
			return n, false, nil
		}
		if read >= replayScanLimit {
			return n, true, nil
		}
		f.Cursor = next
	}
}

// confirmReplay asks before replaying, and says how many deliveries it
// will queue again.
func (s *Server) confirmReplay(w http.ResponseWriter, r *http.Request) {
	wh, ok := s.loadWebhook(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	since, until, err := s.replayRange(q.Get)
	if err != nil {
		setFlash(w, r, err.Error(), true)
		redirect(w, r, "/webhooks/"+wh.ID+"/logs")
		return
	}
	n, more, err := s.countReplayable(r, wh.ID, since, until)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n == 0 && !more {
		setFlash(w, r, "There is no failed delivery to replay between "+since.Format("2 Jan 15:04")+" and "+until.Format("2 Jan 15:04 UTC")+".", false)
		redirect(w, r, "/webhooks/"+wh.ID+"/logs")
		return
	}
	count := plural(n, "failed delivery")
	if more {
		count = "At least " + count
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Replay failed deliveries", Section: "webhooks", D: confirmData{
		Question: fmt.Sprintf("Replay the failed deliveries of “%s”?", wh.Name),
		Detail: fmt.Sprintf("%s created between %s and %s will be attempted again now, with the same webhook-id.", count,
			since.Format("2 Jan 15:04"), until.Format("2 Jan 15:04 UTC")),
		Action: "/webhooks/" + wh.ID + "/replay", Button: "Replay", Cancel: "/webhooks/" + wh.ID + "/logs",
		Since: q.Get("since"), Until: q.Get("until")}})
}

func (s *Server) replayFailed(w http.ResponseWriter, r *http.Request) {
	s.deliveryAction(w, r, func(ws, webhookID string) (string, error) {
		since, until, err := s.replayRange(r.PostForm.Get)
		if err != nil {
			return "", err
		}
		n, err := s.control.ReplayFailed(r.Context(), ws, webhookID, since, until)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s between %s and %s queued again.", plural(n, "failed delivery"),
			since.Format("2 Jan 15:04"), until.Format("2 Jan 15:04 UTC")), nil
	})
}

func (s *Server) deliveryAction(w http.ResponseWriter, r *http.Request, act func(ws, webhookID string) (string, error)) {
	s.lifecycleTo(w, r, "/logs", act)
}

// lifecycleTo is lifecycle going back to the webhook page plus suffix.
func (s *Server) lifecycleTo(w http.ResponseWriter, r *http.Request, suffix string, act func(ws, id string) (string, error)) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.store.Webhook(r.Context(), workspace(r), id); err != nil {
		s.fail(w, r, err)
		return
	}
	msg, err := act(workspace(r), id)
	if err != nil {
		code := herald.ErrorCodeOf(err)
		if code == herald.EInternal || code == herald.ENotFound {
			s.fail(w, r, err)
			return
		}
		setFlash(w, r, err.Error(), true)
		redirect(w, r, "/webhooks/"+id+suffix)
		return
	}
	setFlash(w, r, msg, false)
	redirect(w, r, "/webhooks/"+id+suffix)
}
