package extauthz

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/ratelimit"
)

// rateHeadersReference: one string per header, built by concatenation.
func rateHeadersReference(st ratelimit.Status) map[string]string {
	name := strconv.Quote(st.Limit.Name)
	return map[string]string{
		"ratelimit-policy": name + ";q=" + strconv.FormatInt(st.Limit.Quota, 10) +
			";w=" + strconv.FormatInt(ceilSeconds(st.Limit.Window, 1), 10),
		"ratelimit": name + ";r=" + strconv.FormatInt(st.Remaining, 10) +
			";t=" + strconv.FormatInt(ceilSeconds(st.Reset, 0), 10),
	}
}

func rateStatus(name string, quota, remaining int64, window, reset time.Duration) ratelimit.Status {
	return ratelimit.Status{Limit: ratelimit.Limit{Name: name, Quota: quota, Window: window}, Remaining: remaining, Reset: reset}
}

// TestRateHeadersDifferential: the one-buffer form equals the
// concatenation, for short, long (past the stack buffer) and odd names and
// extreme numbers.
func TestRateHeadersDifferential(t *testing.T) {
	cases := []ratelimit.Status{
		rateStatus("per_user", 100, 99, time.Minute, 600*time.Millisecond),
		rateStatus("", 0, 0, 0, 0),
		rateStatus("x", -1, -5, -time.Second, -time.Hour),
		rateStatus(strings.Repeat("long_name_", 40), 1<<62, 1<<62, time.Duration(1<<62), time.Duration(1<<62)),
		rateStatus("quote\"and\\slash\xff", -1<<63, -1<<63, time.Duration(-1<<63), time.Duration(-1<<63)),
	}
	for _, st := range cases {
		if got, want := rateHeaders(st), rateHeadersReference(st); !maps.Equal(got, want) {
			t.Errorf("rateHeaders(%+v) = %q; want %q", st, got, want)
		}
	}
}

// FuzzRateHeaders: any name and numbers.
func FuzzRateHeaders(f *testing.F) {
	f.Add("per_user", int64(100), int64(99), int64(time.Minute), int64(time.Second))
	f.Add(strings.Repeat("n", 300), int64(-1), int64(1<<40), int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, name string, quota, remaining, window, reset int64) {
		st := rateStatus(name, quota, remaining, time.Duration(window), time.Duration(reset))
		if got, want := rateHeaders(st), rateHeadersReference(st); !maps.Equal(got, want) {
			t.Fatalf("rateHeaders(%+v) = %q; want %q", st, got, want)
		}
	})
}
