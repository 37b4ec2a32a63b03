// Package telemetry holds mcp-authz's Prometheus metrics. They are built
// once, on a registry of their own (no global state), injected into the
// components that report, and served on the admin listener only: metrics
// never reach the public port. The reason label is the same stable code as
// the x-mcp-authz-reason header and the decision-log field.
package telemetry

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors mcp-authz reports.
type Metrics struct {
	reg      *prometheus.Registry
	checks   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	shadow   *prometheus.CounterVec
}

// New returns the metrics on a fresh registry, with Go and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_authz_checks_total",
			Help: "Checks decided, by decision (allow, deny) and stable reason.",
		}, []string{"decision", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcp_authz_check_duration_seconds",
			Help:    "Time to decide one Check, by decision.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"decision"}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_authz_shadow_checks_total",
			Help: "Checks decided in shadow mode, by the would-be decision and reason (the wire got an allow for every deny but the service's own failures).",
		}, []string{"decision", "reason"}),
	}
	m.reg.MustRegister(m.checks, m.duration, m.shadow,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveCheck records one decided Check.
func (m *Metrics) ObserveCheck(allow bool, reason string, d time.Duration) {
	decision := "deny"
	if allow {
		decision = "allow"
	}
	m.checks.WithLabelValues(decision, reason).Inc()
	m.duration.WithLabelValues(decision).Observe(d.Seconds())
}

// ObserveShadow records the would-be decision of a Check in shadow mode.
func (m *Metrics) ObserveShadow(allow bool, reason string) {
	decision := "deny"
	if allow {
		decision = "allow"
	}
	m.shadow.WithLabelValues(decision, reason).Inc()
}

// Register adds collectors owned by other components (issuer status,
// drift counts).
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Gatherer exposes the registry (for tests).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }
