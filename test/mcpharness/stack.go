package mcpharness

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/test/envoyshim"
)

// GateDefaults is the ext_authz filter of examples/envoy/envoy.yaml, the
// configuration operators copy: the whole body (1 MiB, no partial
// message) as raw_body, header_map, the peer certificate, 503 on error,
// fail closed. Only the Check timeout differs: these tests judge
// decisions, never latency, and share two cores under the race detector.
func GateDefaults() envoyshim.Config {
	return envoyshim.Config{
		Body:                   &envoyshim.BodySettings{MaxRequestBytes: 1 << 20, PackAsBytes: true},
		EncodeRawHeaders:       true,
		IncludePeerCertificate: true,
		StatusOnError:          503,
		Timeout:                10 * time.Second,
	}
}

// StackOptions configures StartStack.
type StackOptions struct {
	// Config is mcp-authz's YAML configuration (required); its listen and
	// admin_listen should be 127.0.0.1:0.
	Config string
	// AppOptions adjust how mcp-authz is wired (a clock, a tracer provider).
	AppOptions []app.Option
	// Upstream configures the MCP server behind the gate.
	Upstream UpstreamOptions
	// Gate adjusts GateDefaults (context extensions, ext_proc, …); Authz and
	// Upstream are filled in by StartStack.
	Gate func(*envoyshim.Config)
}

// Stack is the whole request path on loopback: client → gate (Envoy's
// ext_authz) → mcp-authz over gRPC → upstream MCP server.
type Stack struct {
	App      *app.App
	Gate     *envoyshim.Gate
	Upstream *Upstream
	// Endpoint is the gate's MCP endpoint, what clients connect to.
	Endpoint string
}

// StartStack starts mcp-authz, the upstream and the gate; everything stops
// at the end of t.
func StartStack(t testing.TB, opts StackOptions) *Stack {
	t.Helper()
	a := StartApp(t, opts.Config, opts.AppOptions...)
	up := StartUpstream(t, opts.Upstream)
	cfg := GateDefaults()
	if opts.Gate != nil {
		opts.Gate(&cfg)
	}
	cfg.Authz = envoyshim.AuthzClient(envoyshim.Dial(t, a.Addr("grpc")))
	cfg.Upstream = envoyshim.MustURL(t, up.URL)
	g := envoyshim.Start(t, cfg)
	return &Stack{App: a, Gate: g, Upstream: up, Endpoint: g.URL() + "/mcp"}
}

// StartApp runs mcp-authz from a YAML configuration until the end of t.
func StartApp(t testing.TB, yaml string, opts ...app.Option) *app.App {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("mcpharness: config: %v", err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatalf("mcpharness: app.New: %v", err)
	}
	a.Start()
	t.Cleanup(func() {
		if err := a.Shutdown(); err != nil {
			t.Errorf("mcp-authz shutdown: %v", err)
		}
	})
	return a
}
