package telemetry

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// maxLabelValues bounds the distinct limit names and tools the rate-limit
// metrics carry; later values are counted under "other". Limit names come
// from bundle data and tools from the registry, but a label must stay
// bounded whatever a policy author writes. Users never become labels.
const maxLabelValues = 256

// RateLimitMetrics count rate-limit verdicts, charged cost units and
// shared-backend failures.
type RateLimitMetrics struct {
	verdicts *prometheus.CounterVec
	units    *prometheus.CounterVec
	backend  *prometheus.CounterVec
	mu       sync.Mutex
	seen     map[string]struct{}
}

// NewRateLimitMetrics registers the rate-limit collectors on m.
func NewRateLimitMetrics(m *Metrics) (*RateLimitMetrics, error) {
	r := &RateLimitMetrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_authz_ratelimit_requests_total",
			Help: "Requests counted against a rate limit or budget, by limit name, kind, tool and result (allowed, limited).",
		}, []string{"limit", "kind", "tool", "result"}),
		units: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_authz_ratelimit_cost_units_total",
			Help: "Cost units charged to budgets (at admission and from cost reports), by limit name and tool.",
		}, []string{"limit", "tool"}),
		backend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_authz_ratelimit_backend_errors_total",
			Help: "Failed calls to the shared backend (Redis) of the rate limits and the DPoP replay cache, by the action taken (deny, local).",
		}, []string{"action"}),
		seen: map[string]struct{}{},
	}
	return r, m.Register(r.verdicts, r.units, r.backend)
}

// ObserveLimit counts one limit's verdict and the units it charged.
func (r *RateLimitMetrics) ObserveLimit(name, kind, tool string, allowed bool, cost int64) {
	name, tool = r.bounded("l:", name), r.bounded("t:", tool)
	result := "limited"
	if allowed {
		result = "allowed"
	}
	r.verdicts.WithLabelValues(name, kind, tool, result).Inc()
	if cost > 0 {
		r.units.WithLabelValues(name, tool).Add(float64(cost))
	}
}

// ObserveBackendError counts a failed shared-backend call.
func (r *RateLimitMetrics) ObserveBackendError(action string) {
	r.backend.WithLabelValues(action).Inc()
}

// bounded returns v while fewer than maxLabelValues values were seen, else "other".
func (r *RateLimitMetrics) bounded(kind, v string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[kind+v]; ok {
		return v
	}
	if len(r.seen) >= 2*maxLabelValues {
		return "other"
	}
	r.seen[kind+v] = struct{}{}
	return v
}
