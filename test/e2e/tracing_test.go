package e2e

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/telemetry"
)

// startTraced runs the app of yaml tracing into an in-memory recorder.
func startTraced(t *testing.T, yaml string) (*app.App, authv3.AuthorizationClient, *tracetest.SpanRecorder) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := telemetry.NewTracerProviderWith(rec, telemetry.TracingConfig{SampleRatio: 1})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.WithTracerProvider(tp))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	a.Start()
	t.Cleanup(func() {
		if err := a.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	conn, err := grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return a, authv3.NewAuthorizationClient(conn), rec
}

const (
	parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan  = "00f067aa0ba902b7"
)

func TestTracingSpanTreeFromTraceparent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	a, client, rec := startTraced(t, logConfig(path, ""))
	tok := mintAccess(t, nil)
	req := mcpPost{authorization: "Bearer " + tok, body: searchCallBody, headers: map[string]string{
		"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01", "x-request-id": "traced-1",
	}}
	wantAllow(t, "traced call", mustCheck(t, client, req.request()))
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
		if s.SpanContext().TraceID().String() != parentTrace {
			t.Errorf("span %s in trace %s; want the traceparent's %s", s.Name(), s.SpanContext().TraceID(), parentTrace)
		}
		for _, kv := range s.Attributes() {
			if v := kv.Value.Emit(); strings.Contains(v, tok) || strings.Contains(v, "Bearer") || v == "alice" {
				t.Errorf("span %s attribute %s carries a credential or the subject", s.Name(), kv.Key)
			}
		}
	}
	check := spans["Check"]
	if check == nil {
		t.Fatalf("no Check span among %v", rec.Ended())
	}
	if got := check.Parent().SpanID().String(); got != parentSpan || !check.Parent().IsRemote() {
		t.Errorf("Check's parent %s (remote %v); want the traceparent's span %s", got, check.Parent().IsRemote(), parentSpan)
	}
	for stage, parent := range map[string]string{
		"view": "Check", "parse": "Check", "verify": "Check", "policy": "Check", "response": "Check", "registry": "policy",
	} {
		s := spans[stage]
		if s == nil {
			t.Errorf("no %s span", stage)
			continue
		}
		if s.Parent().SpanID() != spans[parent].SpanContext().SpanID() {
			t.Errorf("%s span's parent is %s; want the %s span", stage, s.Parent().SpanID(), parent)
		}
	}
	r := byRequestID(t, readRecords(t, path))["traced-1"]
	if r["trace_id"] != parentTrace || r["span_id"] != check.SpanContext().SpanID().String() {
		t.Errorf("record trace_id %v span_id %v; want %s and the Check span's id", r["trace_id"], r["span_id"], parentTrace)
	}
}

func TestTracingFollowsUnsampledParent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.log")
	a, client, rec := startTraced(t, logConfig(path, ""))
	req := mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: toolsListBody, headers: map[string]string{
		"traceparent": "00-" + parentTrace + "-" + parentSpan + "-00", "x-request-id": "unsampled",
	}}
	wantAllow(t, "unsampled call", mustCheck(t, client, req.request()))
	if err := a.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded for an unsampled parent; want 0", n)
	}
	if r := byRequestID(t, readRecords(t, path))["unsampled"]; r["trace_id"] != parentTrace {
		t.Errorf("record trace_id %v; want the forwarded %s", r["trace_id"], parentTrace)
	}
}
