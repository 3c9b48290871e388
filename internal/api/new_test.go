package api

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// New refuses a server without what serve always wires, naming each
// missing dependency, so no handler has to check for one.
func TestNewRequiresWhatServeWires(t *testing.T) {
	svc := herald.NewService(openSQLite(t), nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	full := fakeDelivery()
	noControl := full
	noControl.Control = nil
	noReaderNoRotate := full
	noReaderNoRotate.Reader, noReaderNoRotate.Rotate = nil, nil
	for _, c := range []struct {
		name     string
		svc      *herald.Service
		renderer Renderer
		d        Delivery
		log      *slog.Logger
		want     string // "" for a server
	}{
		{"everything", svc, payload.Previewer{}, full, log, ""},
		{"no service", nil, payload.Previewer{}, full, log, "the service"},
		{"no renderer", svc, nil, full, log, "the template renderer"},
		{"no engine", svc, payload.Previewer{}, Delivery{}, log, "Delivery.Ingester, Delivery.Control, Delivery.Reader, Delivery.Rotate required"},
		{"no control", svc, payload.Previewer{}, noControl, log, "api: Delivery.Control required"},
		{"no reader, no rotate", svc, payload.Previewer{}, noReaderNoRotate, log, "Delivery.Reader, Delivery.Rotate"},
		{"no logger", svc, payload.Previewer{}, full, nil, "the logger"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Config{}, c.svc, c.renderer, c.d, c.log)
			switch {
			case c.want == "" && (err != nil || s == nil):
				t.Fatalf("New: %v", err)
			case c.want != "" && (err == nil || s != nil):
				t.Fatalf("New accepted a server without %s", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("New: %q, want it to name %q", err, c.want)
			}
		})
	}
}
