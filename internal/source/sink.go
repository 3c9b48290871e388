package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// maxBatch is the most events one ingest call takes (the engine's limit).
const maxBatch = 1000

// sink is one source's Sink in one process: it maps, ingests (the HTTP
// batch path, which group-commits), records rejects, and keeps the
// source's state.
type sink struct {
	r   *Runner
	src *herald.Source
	log *slog.Logger

	mu        sync.Mutex
	state     herald.SourceState
	lastError string
	lag       int64
	lagSaved  time.Time
}

func newSink(r *Runner, src *herald.Source) *sink {
	return &sink{r: r, src: src, lag: -1, log: r.log.With("source", src.Name, "source_id", src.ID, "type", string(src.Type))}
}

// Connected implements Sink.
func (s *sink) Connected() { s.setState(herald.SourceConnected, "") }

// Lag implements Sink: the gauge at once, the stored value at most once a
// second (an idle consumer reports it on every empty fetch).
func (s *sink) Lag(n int64) {
	s.r.metrics.lag.WithLabelValues(s.src.ID).Set(float64(n))
	s.mu.Lock()
	changed := n != s.lag
	due := changed && time.Since(s.lagSaved) >= time.Second
	s.lag = n
	if due {
		s.lagSaved = time.Now()
	}
	s.mu.Unlock()
	if due {
		if err := s.r.store.RecordSourceProgress(context.Background(), s.src.ID, herald.SourceProgress{Lag: n}); err != nil {
			s.log.Debug("source: cannot store the lag", "err", err)
		}
	}
}

// setState records a change of state (or of its error) once: one log
// line, one write, the gauge.
func (s *sink) setState(state herald.SourceState, lastError string) {
	lastError = redact(lastError, s.src.URL)
	s.mu.Lock()
	if s.state == state && s.lastError == lastError {
		s.mu.Unlock()
		return
	}
	prev := s.state
	s.state, s.lastError = state, lastError
	s.mu.Unlock()
	s.r.metrics.setState(s.src.ID, state)
	switch state {
	case herald.SourceError:
		s.log.Warn("source: "+string(state), "err", lastError, "was", string(prev))
	default:
		s.log.Info("source: "+string(state), "was", string(prev))
	}
	if err := s.r.store.SetSourceState(context.Background(), s.src.ID, state, lastError, s.r.now()); err != nil && herald.ErrorCodeOf(err) != herald.ENotFound {
		s.log.Warn("source: cannot store the state", "err", err)
	}
}

// redact hides the URL's secrets in an error text (a client library may
// quote the URL it dialled): the URL itself becomes its masked form, and
// its password, as is and URL-escaped, becomes ••••.
func redact(text, rawURL string) string {
	if text == "" || rawURL == "" {
		return text
	}
	text = strings.ReplaceAll(text, rawURL, herald.MaskURL(rawURL))
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return text
	}
	if p, ok := u.User.Password(); ok && len(p) >= 3 {
		text = strings.ReplaceAll(text, p, "••••")
		text = strings.ReplaceAll(text, url.QueryEscape(p), "••••")
		text = strings.ReplaceAll(text, url.PathEscape(p), "••••")
	}
	return text
}

// Accept implements Sink. Messages that cannot be mapped, and events
// ingest refuses (unknown type, data not an object), are rejected one by
// one — the others of the batch are still ingested; both are on disk
// when Accept returns nil.
func (s *sink) Accept(ctx context.Context, msgs []herald.SourceMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	now := s.r.now()
	var rejects []*herald.SourceReject
	reject := func(m *herald.SourceMessage, reason string) {
		rejects = append(rejects, &herald.SourceReject{MessageID: m.ID, Subject: m.Subject, Reason: reason, Raw: m.Body, RawSize: len(m.Body), At: now})
	}
	inputs := make([]herald.EventInput, 0, len(msgs))
	origin := make([]*herald.SourceMessage, 0, len(msgs))
	last := time.Time{}
	for i := range msgs {
		m := &msgs[i]
		if m.PublishedAt.After(last) {
			last = m.PublishedAt
		}
		in, err := Map(s.src, m)
		if err != nil {
			reject(m, err.Error())
			continue
		}
		inputs = append(inputs, in)
		origin = append(origin, m)
	}
	var fresh int64
	for start := 0; start < len(inputs); start += maxBatch {
		end := min(start+maxBatch, len(inputs))
		n, err := s.ingest(ctx, inputs[start:end], origin[start:end], reject)
		if err != nil {
			return err
		}
		fresh += n
	}
	if len(rejects) > 0 {
		added, err := s.r.store.RecordRejects(ctx, s.src.ID, rejects)
		if err != nil {
			return fmt.Errorf("record rejected messages: %w", err)
		}
		s.r.metrics.messages.WithLabelValues(s.src.ID, "rejected").Add(float64(added))
		if added > 0 { // a redelivered reject is not logged again
			for _, rj := range rejects[:min(len(rejects), 3)] {
				s.log.Info("source: message rejected", "message_id", rj.MessageID, "reason", rj.Reason, "of", len(rejects))
			}
		}
	}
	s.r.metrics.messages.WithLabelValues(s.src.ID, "ingested").Add(float64(fresh))
	if last.IsZero() {
		last = now
	}
	s.r.metrics.lastMessage.WithLabelValues(s.src.ID).Set(float64(last.UnixMilli()) / 1000)
	s.mu.Lock()
	lag := s.lag
	s.mu.Unlock()
	if err := s.r.store.RecordSourceProgress(ctx, s.src.ID, herald.SourceProgress{Ingested: fresh, LastMessageAt: last, Lag: lag}); err != nil &&
		herald.ErrorCodeOf(err) != herald.ENotFound {
		// The events are committed; only the count is behind.
		s.log.Warn("source: cannot store the counts", "err", err)
	}
	return nil
}

// ingest commits one chunk. An EInvalid answer names the events at
// fault (events[i].type, or type alone in a batch of one): those are
// rejected with the message and the rest is ingested again, so one bad
// event never fails its batch. Each round removes at least one event.
func (s *sink) ingest(ctx context.Context, inputs []herald.EventInput, origin []*herald.SourceMessage, reject func(*herald.SourceMessage, string)) (int64, error) {
	for len(inputs) > 0 {
		results, err := s.r.ingester.Ingest(ctx, s.src.WorkspaceID, inputs)
		if err == nil {
			var fresh int64
			for _, r := range results {
				if !r.Duplicate {
					fresh++
				}
			}
			return fresh, nil
		}
		var e *herald.Error
		if !errors.As(err, &e) || e.Code != herald.EInvalid || len(e.Fields) == 0 {
			return 0, fmt.Errorf("ingest: %w", err)
		}
		bad := map[int][]string{}
		for _, f := range e.Fields {
			i, name, ok := eventIndex(f.Field, len(inputs))
			if !ok {
				return 0, fmt.Errorf("ingest: %w", err)
			}
			reason := name + " " + f.Message // "data must be a JSON object …"
			if strings.Contains(f.Message, name) {
				reason = f.Message // "unknown event type …"
			}
			bad[i] = append(bad[i], reason)
		}
		keptIn, keptOrigin := inputs[:0:0], origin[:0:0]
		for i := range inputs {
			if reasons, ok := bad[i]; ok {
				reject(origin[i], "refused by ingest: "+strings.Join(reasons, "; "))
				continue
			}
			keptIn, keptOrigin = append(keptIn, inputs[i]), append(keptOrigin, origin[i])
		}
		inputs, origin = keptIn, keptOrigin
	}
	return 0, nil
}

// eventIndex reads "events[3].type" (or "type" in a batch of one).
func eventIndex(field string, n int) (int, string, bool) {
	if n == 1 && !strings.HasPrefix(field, "events[") {
		return 0, field, true
	}
	rest, ok := strings.CutPrefix(field, "events[")
	if !ok {
		return 0, "", false
	}
	num, name, ok := strings.Cut(rest, "].")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 || i >= n {
		return 0, "", false
	}
	return i, name, true
}
