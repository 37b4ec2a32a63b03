package telemetry

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestObserveCheck(t *testing.T) {
	m := New()
	m.ObserveCheck(true, "allowed", time.Millisecond)
	m.ObserveCheck(false, "tool_not_allowed", time.Millisecond)
	m.ObserveCheck(false, "tool_not_allowed", time.Millisecond)
	if got := testutil.ToFloat64(m.checks.WithLabelValues("deny", "tool_not_allowed")); got != 2 {
		t.Errorf("checks{deny,tool_not_allowed} = %v; want 2", got)
	}
	if got := testutil.ToFloat64(m.checks.WithLabelValues("allow", "allowed")); got != 1 {
		t.Errorf("checks{allow,allowed} = %v; want 1", got)
	}
}

func TestIssuerCollectorAndHandler(t *testing.T) {
	m := New()
	state := []IssuerState{{Issuer: "https://a.test", HasKeys: true}, {Issuer: "https://b.test", Stale: true}}
	if err := m.Register(NewIssuerCollector(func() []IssuerState { return state }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x_total", Help: "x"}, func() float64 { return 3 })); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`mcp_authz_issuer_keys_available{issuer="https://a.test"} 1`,
		`mcp_authz_issuer_keys_available{issuer="https://b.test"} 0`,
		`mcp_authz_issuer_keys_stale{issuer="https://b.test"} 1`,
		`x_total 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
