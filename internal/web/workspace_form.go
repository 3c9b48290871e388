package web

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// This file reads the forms of Settings › Workspace.

// retentionUnit is one choice of the retention form's unit select.
type retentionUnit struct {
	name string // singular, as plural() takes it; also the select's value
	d    time.Duration
}

// retentionUnits, largest first: a stored retention is shown in the
// largest unit that divides it exactly, so an edit never rounds a value
// the API set (say, 90 seconds).
var retentionUnits = []retentionUnit{
	{"day", 24 * time.Hour}, {"hour", time.Hour}, {"minute", time.Minute}, {"second", time.Second},
}

// retentionForm is the retention field as typed (or as stored, split
// into an amount and a unit).
type retentionForm struct {
	Amount string
	Unit   string
}

// Units lists the select's choices.
func (retentionForm) Units() []string {
	out := make([]string, len(retentionUnits))
	for i, u := range retentionUnits {
		out[i] = u.name
	}
	return out
}

// retentionFormOf shows a stored retention (nil: empty, the server's
// default, with days preselected).
func retentionFormOf(seconds *int64) retentionForm {
	if seconds == nil {
		return retentionForm{Unit: "day"}
	}
	d := time.Duration(*seconds) * time.Second
	for _, u := range retentionUnits {
		if d%u.d == 0 {
			return retentionForm{Amount: strconv.FormatInt(int64(d/u.d), 10), Unit: u.name}
		}
	}
	return retentionForm{Amount: strconv.FormatInt(*seconds, 10), Unit: "second"}
}

// parseRetentionForm reads "keep logs for N units" into the duration
// SetRetention takes: nil when the amount is empty (the server's
// default). An amount that is not a whole number is an EInvalid error on
// retention_seconds; a number out of range is left to the service, which
// refuses it with the allowed range.
func parseRetentionForm(form url.Values) (*time.Duration, retentionForm, error) {
	f := retentionForm{Amount: strings.TrimSpace(form.Get("retention_amount")), Unit: form.Get("retention_unit")}
	unit := time.Duration(0)
	for _, u := range retentionUnits {
		if u.name == f.Unit {
			unit = u.d
		}
	}
	if unit == 0 {
		return nil, f, invalidField("retention_seconds", "needs a unit: days, hours, minutes or seconds")
	}
	if f.Amount == "" {
		return nil, f, nil
	}
	n, err := strconv.ParseInt(f.Amount, 10, 64)
	if err != nil || n < 0 {
		return nil, f, invalidField("retention_seconds", "must be a whole number of "+f.Unit+"s, such as 30 (choose a smaller unit for a fraction)")
	}
	// Past the maximum the exact value does not matter (and would
	// overflow): the service refuses it either way.
	d := herald.MaxRetention + time.Second
	if n <= int64(herald.MaxRetention/unit) {
		d = time.Duration(n) * unit
	}
	return &d, f, nil
}

// invalidField is a validation error on one field, as the service returns.
func invalidField(field, msg string) error {
	return &herald.Error{Code: herald.EInvalid, Message: "validation failed", Fields: []herald.FieldError{{Field: field, Message: msg}}}
}
