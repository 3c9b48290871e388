package web

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// sourceForm is the data of the add and edit forms of a source. The URL
// is shown masked (its password as ••••): saving it unchanged keeps the
// stored password, which the form never holds.
type sourceForm struct {
	ID       string
	Src      herald.Source
	Subjects string // nats.subjects, one per line
	Prefetch string // amqp.prefetch as typed
}

func (f *sourceForm) Action() string {
	if f.ID == "" {
		return "/sources"
	}
	return "/sources/" + f.ID
}

// Types lists the source types for the type choice.
func (f *sourceForm) Types() []herald.SourceType { return herald.SourceTypes }

func formFromSource(src *herald.Source) *sourceForm {
	f := &sourceForm{ID: src.ID, Src: *src}
	f.Src.URL = src.MaskedURL()
	if src.NATS != nil {
		f.Subjects = strings.Join(src.NATS.Subjects, "\n")
	}
	if src.AMQP != nil && src.AMQP.Prefetch != 0 {
		f.Prefetch = strconv.Itoa(src.AMQP.Prefetch)
	}
	return f
}

// NATS, AMQP and Outbox return the per-type settings, or empty ones, so
// the form can show every type's fields.
func (f *sourceForm) NATS() herald.NATSSource {
	if f.Src.NATS != nil {
		return *f.Src.NATS
	}
	return herald.NATSSource{Consumer: herald.DefaultNATSConsumer}
}

func (f *sourceForm) AMQP() herald.AMQPSource {
	if f.Src.AMQP != nil {
		return *f.Src.AMQP
	}
	return herald.AMQPSource{}
}

func (f *sourceForm) Outbox() herald.OutboxSource {
	if f.Src.Outbox != nil {
		return *f.Src.Outbox
	}
	return herald.OutboxSource{}
}

// parseSourceForm reads the form. Field names match the service's errors:
// name, type, url, nats.stream, nats.consumer, nats.subjects (one per line
// or separated by commas; errors name nats.subjects[i]), amqp.queue,
// amqp.declare, amqp.prefetch, outbox.table, mapping.type_from,
// mapping.data_from, mapping.id_from. Only the chosen type's settings are
// kept. A prefetch that is not a number goes on as -1, which the service
// refuses with its own message.
func parseSourceForm(form url.Values) (herald.Source, *sourceForm) {
	src := herald.Source{Name: form.Get("name"), Type: herald.SourceType(form.Get("type")), URL: form.Get("url"),
		Mapping: herald.SourceMapping{TypeFrom: form.Get("mapping.type_from"), DataFrom: form.Get("mapping.data_from"), IDFrom: form.Get("mapping.id_from")}}
	f := &sourceForm{Subjects: form.Get("nats.subjects"), Prefetch: strings.TrimSpace(form.Get("amqp.prefetch"))}
	switch src.Type {
	case herald.SourceNATS:
		n := &herald.NATSSource{Stream: form.Get("nats.stream"), Consumer: form.Get("nats.consumer")}
		for _, s := range strings.FieldsFunc(f.Subjects, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
			if s = strings.TrimSpace(s); s != "" {
				n.Subjects = append(n.Subjects, s)
			}
		}
		src.NATS = n
	case herald.SourceAMQP:
		a := &herald.AMQPSource{Queue: form.Get("amqp.queue"), Declare: form.Get("amqp.declare") != ""}
		if f.Prefetch != "" {
			p, err := strconv.Atoi(f.Prefetch)
			if err != nil {
				p = -1
			}
			a.Prefetch = p
		}
		src.AMQP = a
	case herald.SourceOutbox:
		src.Outbox = &herald.OutboxSource{Table: form.Get("outbox.table")}
	}
	f.Src = src
	return src, f
}

// rejectText is a rejected message's raw bytes as text (bytes that are
// not UTF-8 as U+FFFD).
func rejectText(raw []byte) string { return strings.ToValidUTF8(string(raw), "\uFFFD") }
