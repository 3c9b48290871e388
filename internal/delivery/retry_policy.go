package delivery

import (
	"net/http"
	"strconv"
	"time"
)

// DefaultSchedule is the delay before each attempt: the first at once,
// then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — about 28 hours in all,
// the schedule receivers know from Svix and Standard Webhooks.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// RetryPolicy decides when a failed attempt is tried again.
type RetryPolicy interface {
	// Next returns the delay before attempt number done+1 after done
	// attempts, or ok=false when no attempt is left.
	Next(schedule []time.Duration, done int, retryAfter time.Duration) (delay time.Duration, ok bool)
}

// JitteredSchedule follows a schedule with ±Jitter random spread, and
// honours a receiver's Retry-After between MinRetryAfter and MaxRetryAfter.
type JitteredSchedule struct {
	Jitter        float64        // 0.2 means ±20 %
	Rand          func() float64 // [0, 1); injectable for tests
	MinRetryAfter time.Duration  // a smaller Retry-After is raised to this
	MaxRetryAfter time.Duration  // a larger one is lowered to this
}

// Next implements RetryPolicy.
func (p JitteredSchedule) Next(schedule []time.Duration, done int, retryAfter time.Duration) (time.Duration, bool) {
	if done >= len(schedule) {
		return 0, false
	}
	if retryAfter > 0 {
		return min(max(retryAfter, p.MinRetryAfter), p.MaxRetryAfter), true
	}
	d := schedule[done]
	if d <= 0 || p.Jitter <= 0 || p.Rand == nil {
		return d, true
	}
	f := 1 + p.Jitter*(2*p.Rand()-1)
	return time.Duration(float64(d) * f), true
}

// ParseSchedule turns a webhook's retry_schedule into durations; empty
// means DefaultSchedule.
func ParseSchedule(s []string) []time.Duration {
	if len(s) == 0 {
		return DefaultSchedule
	}
	out := make([]time.Duration, 0, len(s))
	for _, v := range s {
		d, err := time.ParseDuration(v)
		if err != nil {
			return DefaultSchedule // validated on save; never reached
		}
		out = append(out, d)
	}
	return out
}

// retryAfter reads Retry-After (seconds or an HTTP date) on 429 and 503.
func retryAfter(res *http.Response, now time.Time) time.Duration {
	if res == nil || (res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusServiceUnavailable) {
		return 0
	}
	v := res.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
