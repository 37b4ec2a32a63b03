package e2e

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	procv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"

	"github.com/mcp-authz/mcp-authz/test/envoyshim"
	"github.com/mcp-authz/mcp-authz/test/mcpharness"
)

// lateProc is an ext_proc client whose connection is made once the app is
// up (the gate is configured before the stack knows the app's address).
type lateProc struct {
	mu sync.Mutex
	c  procv3.ExternalProcessorClient
}

func (l *lateProc) set(c procv3.ExternalProcessorClient) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = c
}

func (l *lateProc) Process(ctx context.Context, opts ...grpc.CallOption) (procv3.ExternalProcessor_ProcessClient, error) {
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	return c.Process(ctx, opts...)
}

// TestExtProcRealClientThroughGate runs the official Go SDK client and
// server through the Envoy-shaped gate (test/envoyshim) with both filters:
// each role's tools/list, as the SDK reads it, holds exactly the tools that
// role may call, and allowed calls still work through the processor. The
// gate does not implement mode_override, so it streams every response body
// to the processor (JSON bodies are then held until judged whole).
func TestExtProcRealClientThroughGate(t *testing.T) {
	late := &lateProc{}
	s := mcpharness.StartStack(t, mcpharness.StackOptions{
		Config:   e2eConfig,
		Upstream: mcpharness.UpstreamOptions{RegistryFile: registryFile},
		Gate: func(c *envoyshim.Config) {
			c.ExtProc = &envoyshim.ExtProcConfig{Client: late, MessageTimeout: 10 * time.Second,
				ForwardNamespaces: []string{extAuthzNamespace},
				Mode: &filterv3.ProcessingMode{RequestHeaderMode: filterv3.ProcessingMode_SEND,
					ResponseHeaderMode: filterv3.ProcessingMode_SEND, ResponseBodyMode: filterv3.ProcessingMode_STREAMED}}
		},
	})
	late.set(envoyshim.ExtProcClient(envoyshim.Dial(t, s.App.Addr("grpc"))))
	ctx := testCtx(t)
	for _, role := range []string{"admin", "analyst", "support"} {
		t.Run(role, func(t *testing.T) {
			cs, err := mcpharness.Connect(ctx, t, s.Endpoint, bearer(t, role+"-user", role), mcpharness.ClientOptions{DisableStandaloneSSE: true})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			res, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			var names []string
			for _, tool := range res.Tools {
				names = append(names, tool.Name)
			}
			sort.Strings(names)
			if got, want := strings.Join(names, " "), strings.Join(roleTools[role], " "); got != want {
				t.Errorf("tools/list as %s = %s; want %s", role, got, want)
			}
			if _, err := callText(ctx, cs, "search_issues", map[string]any{"query": "x"}); err != nil {
				t.Errorf("search_issues through ext_proc: %v", err)
			}
		})
	}
}
