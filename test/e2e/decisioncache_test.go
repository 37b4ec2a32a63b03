package e2e

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// TestDecisionCacheDifferentialE2E: the service with its default decision
// cache answers every request of the fixture mix, of the real SDK session
// and of their variants (each request with every user's token) exactly as
// the service with the cache off, the first time (a miss) and the times
// after (hits).
func TestDecisionCacheDifferentialE2E(t *testing.T) {
	cached := buildComponents(t, testConfig)
	plain := buildComponents(t, noDecisionCache(testConfig))
	if !cached.Engine.DecisionCacheStats().On || plain.Engine.DecisionCacheStats().On {
		t.Fatalf("cache on: default %v, size 0 %v; want true, false",
			cached.Engine.DecisionCacheStats().On, plain.Engine.DecisionCacheStats().On)
	}
	reqs := differentialCorpus(t)
	ctx := context.Background()
	for round := range 3 {
		for i, req := range reqs {
			want, err1 := plain.Server.Check(ctx, req)
			got, err2 := cached.Server.Check(ctx, req)
			if err1 != nil || err2 != nil {
				t.Fatalf("request %d: errors %v, %v", i, err1, err2)
			}
			if w, g := normalized(t, want), normalized(t, got); !proto.Equal(w, g) {
				t.Fatalf("round %d request %d: uncached\n%v\ncached\n%v", round, i, w, g)
			}
		}
	}
	if st := cached.Engine.DecisionCacheStats(); st.Hits == 0 || st.Misses == 0 {
		t.Fatalf("stats %+v: want both hits and misses", st)
	}
}

// buildComponents builds the service's components from yaml (no listeners).
func buildComponents(t *testing.T, yaml string) *app.Components {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	comp, err := app.Build(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(comp.Close)
	return comp
}

// differentialCorpus is the fixture mix, the SDK session as each user, and
// every mix request with each user's token in place of its own.
func differentialCorpus(t *testing.T) []*authv3.CheckRequest {
	t.Helper()
	mix := loadMix(t, "testdata/mcp-mix.json")
	toks := tokens(t)
	out := append([]*authv3.CheckRequest(nil), mix...)
	var traffic sdkTraffic
	b, err := os.ReadFile("testdata/sdk-ts-traffic.json")
	if err != nil || json.Unmarshal(b, &traffic) != nil {
		t.Fatalf("sdk traffic: %v", err)
	}
	for _, tok := range toks {
		for _, r := range traffic.Requests {
			out = append(out, envoyRequest(r.Method, r.Path, r.Headers, r.Body, tok))
		}
		for _, m := range mix {
			c := proto.Clone(m).(*authv3.CheckRequest)
			h := c.GetAttributes().GetRequest().GetHttp().GetHeaders()
			if _, ok := h["authorization"]; ok {
				h["authorization"] = "Bearer " + tok
			}
			out = append(out, c)
		}
	}
	return out
}

// limiterState matches the limiter's remaining count and reset in a
// RateLimit header: each service's own counters under the wall clock.
var limiterState = regexp.MustCompile(`;(r|t)=[0-9]+`)

// normalized is resp without what legitimately differs between two
// answers to one request: the decision time inside the ext_proc handoff
// and the rate limiter's remaining count and reset (wall-clock state).
func normalized(t *testing.T, resp *authv3.CheckResponse) *authv3.CheckResponse {
	t.Helper()
	c := proto.Clone(resp).(*authv3.CheckResponse)
	for _, h := range c.GetOkResponse().GetResponseHeadersToAdd() {
		if h.GetHeader().GetKey() == "ratelimit" {
			h.Header.Value = limiterState.ReplaceAllString(h.GetHeader().GetValue(), ";$1=?")
		}
	}
	md := c.GetDynamicMetadata()
	v, ok := md.GetFields()[policy.HandoffKey]
	if !ok {
		return c
	}
	h, err := policy.DecodeHandoff(v.GetStringValue())
	if err != nil {
		t.Fatalf("handoff: %v", err)
	}
	h.Input.Request.Time = ""
	enc, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	md.Fields[policy.HandoffKey] = structpb.NewStringValue(enc)
	return c
}
