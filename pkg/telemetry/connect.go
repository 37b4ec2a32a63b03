package telemetry

import "github.com/prometheus/client_golang/prometheus"

// ConnectFlow counts the browser side of the connect flow:
// mcp_authz_connect_flow_total{outcome,reason}. outcome is connected,
// revoked or refused; reason is the stable refusal reason ("" otherwise),
// the code the error page shows.
type ConnectFlow struct {
	counter *prometheus.CounterVec
}

// NewConnectFlow returns the counter; register it with Metrics.Register.
func NewConnectFlow() *ConnectFlow {
	return &ConnectFlow{counter: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcp_authz_connect_flow_total",
		Help: "Finished steps of the browser connect flow, by outcome and refusal reason.",
	}, []string{"outcome", "reason"})}
}

// Observe counts one finished step.
func (c *ConnectFlow) Observe(outcome, reason string) {
	c.counter.WithLabelValues(outcome, reason).Inc()
}

// Describe implements prometheus.Collector.
func (c *ConnectFlow) Describe(ch chan<- *prometheus.Desc) { c.counter.Describe(ch) }

// Collect implements prometheus.Collector.
func (c *ConnectFlow) Collect(ch chan<- prometheus.Metric) { c.counter.Collect(ch) }
