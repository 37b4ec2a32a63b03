package telemetry

import "github.com/prometheus/client_golang/prometheus"

// IssuerState is one issuer's key-set status, as the identity verifier
// reports it.
type IssuerState struct {
	// Issuer is the iss value.
	Issuer string
	// HasKeys is true while a usable key set serves.
	HasKeys bool
	// Stale is true when the last good set is older than the staleness bound.
	Stale bool
	// SkippedKeys counts distinct published keys that cannot verify tokens.
	SkippedKeys uint64
	// RefusedSets counts fetched key sets refused whole, by reason.
	RefusedSets map[string]uint64
}

// IssuerCollector reports each issuer's key availability at scrape time,
// so an issuer whose endpoint is down shows without taking the service out.
type IssuerCollector struct {
	status  func() []IssuerState
	keys    *prometheus.Desc
	stale   *prometheus.Desc
	skipped *prometheus.Desc
	refused *prometheus.Desc
}

// NewIssuerCollector reads status at every scrape.
func NewIssuerCollector(status func() []IssuerState) *IssuerCollector {
	return &IssuerCollector{
		status: status,
		keys:   prometheus.NewDesc("mcp_authz_issuer_keys_available", "1 when the issuer has a usable key set.", []string{"issuer"}, nil),
		stale:  prometheus.NewDesc("mcp_authz_issuer_keys_stale", "1 when the issuer's last good key set is past the staleness bound.", []string{"issuer"}, nil),
		skipped: prometheus.NewDesc("mcp_authz_issuer_keys_skipped_total",
			"Distinct keys an issuer published that cannot verify tokens (weak, use enc, no verify op, unknown kty, duplicate kid).", []string{"issuer"}, nil),
		refused: prometheus.NewDesc("mcp_authz_issuer_key_sets_refused_total",
			"Fetched key sets refused whole (reason private_material: the set publishes private keys).", []string{"issuer", "reason"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *IssuerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.keys
	ch <- c.stale
	ch <- c.skipped
	ch <- c.refused
}

// Collect implements prometheus.Collector.
func (c *IssuerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.status() {
		ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, b2f(s.HasKeys), s.Issuer)
		ch <- prometheus.MustNewConstMetric(c.stale, prometheus.GaugeValue, b2f(s.Stale), s.Issuer)
		ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(s.SkippedKeys), s.Issuer)
		for reason, n := range s.RefusedSets {
			ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(n), s.Issuer, reason)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
