package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Trace exporters.
const (
	ExporterOTLPGRPC = "otlp_grpc"
	ExporterOTLPHTTP = "otlp_http"
)

// TracingConfig selects the OTLP exporter of Check's spans.
type TracingConfig struct {
	// Exporter is ExporterOTLPGRPC or ExporterOTLPHTTP.
	Exporter string
	// Endpoint is the collector URL, e.g. http://otel-collector:4317 (an
	// http:// scheme sends in plain text).
	Endpoint string
	// SampleRatio is the share of traces sampled when Envoy's traceparent
	// did not decide (the parent's decision is always followed).
	SampleRatio float64
	// Version names the service version in the resource.
	Version string
}

// NewTracerProvider returns a provider exporting in batches to the OTLP
// collector of c. No global is set: the provider is injected. Shut it down
// to flush.
func NewTracerProvider(ctx context.Context, c TracingConfig) (*sdktrace.TracerProvider, error) {
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch c.Exporter {
	case ExporterOTLPGRPC:
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(c.Endpoint))
	case ExporterOTLPHTTP:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.Endpoint))
	default:
		return nil, fmt.Errorf("telemetry: unknown trace exporter %q", c.Exporter)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s exporter: %w", c.Exporter, err)
	}
	return NewTracerProviderWith(sdktrace.NewBatchSpanProcessor(exp), c), nil
}

// NewTracerProviderWith returns a provider over span processor sp, with
// the sampler and resource of c (tests pass an in-memory exporter).
func NewTracerProviderWith(sp sdktrace.SpanProcessor, c TracingConfig) *sdktrace.TracerProvider {
	res := resource.NewSchemaless(attribute.String("service.name", "mcp-authz"),
		attribute.String("service.version", c.Version))
	return sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
}
