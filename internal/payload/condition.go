package payload

import (
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/template"
)

// CompileCondition compiles a webhook's condition or success condition
// (field names which, for errors with line and column).
func CompileCondition(field, src string, loc *time.Location) (*template.Expr, error) {
	x, err := template.CompileExpr(src, template.Options{Location: loc})
	if err != nil {
		return nil, &herald.Error{Code: herald.EInvalid, Message: "the " + field + " does not compile", Fields: fieldErr(field, err)}
	}
	return x, nil
}

// checkConditions compiles the condition and the success condition, and
// evaluates the condition on the sample: a failure there is a warning
// (the sample may lack what real events carry), as is a path the sample
// does not provide.
func checkConditions(spec *herald.WebhookSpec, vars map[string]any, loc *time.Location) (warnings, errs []herald.FieldError) {
	if spec.Condition != "" {
		x, err := CompileCondition("condition", spec.Condition, loc)
		if err != nil {
			errs = append(errs, err.(*herald.Error).Fields...)
		} else {
			warnings = append(warnings, diagnostics("condition", x.MissingPaths(vars))...)
			if _, err := x.Truthy(vars); err != nil {
				for _, f := range fieldErr("condition", err) {
					f.Message = "on the sample event: " + f.Message
					warnings = append(warnings, f)
				}
			}
		}
	}
	if spec.SuccessCondition != "" {
		if _, err := CompileCondition("success_condition", spec.SuccessCondition, loc); err != nil {
			errs = append(errs, err.(*herald.Error).Fields...)
		}
	}
	return warnings, errs
}

// Conditions caches compiled conditions per (webhook, revision, zone).
type Conditions struct {
	mu sync.Mutex
	m  map[condKey]condEntry
}

type condKey struct {
	id       string
	revision int
	zone     string
	src      string
}

type condEntry struct {
	x   *template.Expr
	err error
}

// Get returns the compiled src, compiling it on first use. A condition
// that does not compile (saved before a template-engine change) is
// cached as its error.
func (c *Conditions) Get(webhookID string, revision int, src string, loc *time.Location) (*template.Expr, error) {
	zone := ""
	if loc != nil {
		zone = loc.String()
	}
	k := condKey{webhookID, revision, zone, src}
	c.mu.Lock()
	if e, ok := c.m[k]; ok {
		c.mu.Unlock()
		return e.x, e.err
	}
	c.mu.Unlock()
	x, err := template.CompileExpr(src, template.Options{Location: loc})
	if err != nil {
		err = fmt.Errorf("does not compile: %w", err)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[condKey]condEntry)
	}
	c.m[k] = condEntry{x, err}
	c.mu.Unlock()
	return x, err
}

// Match evaluates a condition over an event's variables.
func (c *Conditions) Match(webhookID string, revision int, src string, loc *time.Location, vars map[string]any) (bool, error) {
	x, err := c.Get(webhookID, revision, src, loc)
	if err != nil {
		return false, err
	}
	return x.Truthy(vars)
}

// Rejection evaluates a success condition over {"response": response}
// and returns why the response fails it, "" when it holds: the
// expression's result, or its error.
func (c *Conditions) Rejection(webhookID string, revision int, src string, loc *time.Location, response map[string]any) string {
	x, err := c.Get(webhookID, revision, src, loc)
	if err != nil {
		return "the success condition " + err.Error()
	}
	v, err := x.Eval(map[string]any{"response": response})
	if err != nil {
		return "the success condition could not be evaluated: " + err.Error()
	}
	if !template.Truthy(v) {
		code := response["status"]
		return fmt.Sprintf("the receiver answered %v, but the response failed the success condition (it gave %s)", code, template.Describe(v))
	}
	return ""
}

var _ herald.ConditionEvaluator = Checker{}

// EvalCondition implements herald.ConditionEvaluator.
func (ch Checker) EvalCondition(src string, vars map[string]any, loc *time.Location) (bool, string, error) {
	if loc == nil {
		loc = ch.Location
	}
	x, err := CompileCondition("condition", src, loc)
	if err != nil {
		return false, "", err
	}
	v, err := x.Eval(vars)
	if err != nil {
		return false, "", err
	}
	return template.Truthy(v), template.Describe(v), nil
}
