package telemetry

import "github.com/prometheus/client_golang/prometheus"

// Responses counts what the response processor (ext_proc) did to the MCP
// responses it inspected: mcp_authz_responses_total{outcome,reason}.
// outcome is passed, filtered (a list lost items), redacted or refused;
// reason is the stable refusal reason ("" otherwise), the same code the
// client reads in error.data.reason.
type Responses struct {
	counter *prometheus.CounterVec
}

// NewResponses returns the counter; register it with Metrics.Register.
func NewResponses() *Responses {
	return &Responses{counter: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcp_authz_responses_total",
		Help: "MCP responses inspected by ext_proc, by outcome and refusal reason.",
	}, []string{"outcome", "reason"})}
}

// ObserveResponse counts one outcome.
func (r *Responses) ObserveResponse(outcome, reason string) {
	r.counter.WithLabelValues(outcome, reason).Inc()
}

// Describe implements prometheus.Collector.
func (r *Responses) Describe(ch chan<- *prometheus.Desc) { r.counter.Describe(ch) }

// Collect implements prometheus.Collector.
func (r *Responses) Collect(ch chan<- prometheus.Metric) { r.counter.Collect(ch) }
