package app

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
)

// newDecisionLog starts the decision log of cfg (nil when output is unset).
func newDecisionLog(cfg config.DecisionLog, log *slog.Logger) *decisionlog.Logger {
	var sink decisionlog.Sink
	switch cfg.Output {
	case "":
		return nil
	case config.OutputStdout:
		sink = decisionlog.NewWriterSink(os.Stdout)
	case config.OutputFile:
		sink = decisionlog.NewFileSink(cfg.Path, decisionlog.FileOptions{Compress: cfg.Compress})
	case config.OutputHTTP:
		host, _ := os.Hostname()
		sink = decisionlog.NewHTTPSink(cfg.URL, nil, map[string]string{
			"app": "mcp-authz", "id": uuid.NewString(), "hostname": host,
		})
	}
	return decisionlog.New(sink, decisionlog.Options{
		BufferRecords: cfg.BufferRecords, LogArguments: cfg.MaskArguments, Logger: log,
		FlushInterval: cfg.FlushInterval.D(),
	})
}

// decisionLogMetrics counts what the decision log wrote, dropped (buffer
// full) and lost (the sink failed).
func decisionLogMetrics(l *decisionlog.Logger) []prometheus.Collector {
	counter := func(name, help string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) })
	}
	return []prometheus.Collector{
		counter("mcp_authz_decision_log_written_total", "Decision records the sink accepted.", l.Written),
		counter("mcp_authz_decision_log_dropped_total", "Decision records dropped because the buffer was full.", l.Dropped),
		counter("mcp_authz_decision_log_failed_total", "Decision records lost because the sink failed to write them.", l.Failed),
	}
}

// closeLog closes the decision log, reporting a final flush failure.
func closeLog(l *decisionlog.Logger, log *slog.Logger) func() {
	return func() {
		if err := l.Close(); err != nil {
			log.Warn("decision log: close", "error", fmt.Sprint(err))
		}
	}
}
