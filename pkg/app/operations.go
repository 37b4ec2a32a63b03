package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/redact"
	"github.com/mcp-authz/mcp-authz/pkg/telemetry"
)

// Option adjusts how Build wires the components.
type Option func(*options)

type options struct {
	tracerProvider trace.TracerProvider
	connectClock   func() time.Time
	configFile     string
	level          *slog.LevelVar
}

// optionsOf applies opts in order.
func optionsOf(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithTracerProvider traces Checks with tp instead of the tracing config's
// OTLP exporter (tests use an in-memory exporter).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// tracerName names the spans of the ext_authz server.
const tracerName = "github.com/mcp-authz/mcp-authz/pkg/extauthz"

// traceFlushTimeout bounds the final export of spans at shutdown.
const traceFlushTimeout = 5 * time.Second

// buildOperations wires the decision log and tracing into the server
// options.
func (c *Components) buildOperations(ctx context.Context, cfg *config.Config, log *slog.Logger, opts []Option) error {
	o := optionsOf(opts)
	if c.DecisionLog = newDecisionLog(cfg.DecisionLog, log); c.DecisionLog != nil {
		c.serverOpts.Recorder = c.DecisionLog
		c.closers = append(c.closers, closeLog(c.DecisionLog, log))
	}
	tp := o.tracerProvider
	if tp == nil && cfg.Tracing.Exporter != "" {
		sdk, err := telemetry.NewTracerProvider(ctx, tracingConfig(cfg.Tracing))
		if err != nil {
			return fmt.Errorf("app: tracing: %w", err)
		}
		c.closers = append(c.closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
			defer cancel()
			if err := sdk.Shutdown(ctx); err != nil {
				log.Warn("tracing: flush at shutdown", redact.Attr("error", err))
			}
		})
		tp = sdk
	}
	if tp != nil {
		c.serverOpts.Tracer = tp.Tracer(tracerName)
	}
	return nil
}

func tracingConfig(t config.Tracing) telemetry.TracingConfig {
	ratio := 1.0
	if t.SampleRatio != nil {
		ratio = *t.SampleRatio
	}
	return telemetry.TracingConfig{Exporter: t.Exporter, Endpoint: t.Endpoint, SampleRatio: ratio}
}
