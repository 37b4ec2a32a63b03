package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"regexp"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/ from the current code")

// goldenPath holds every response of goldenCorpus, as the code answered
// when it was written: performance work must not change one of them.
const goldenPath = "testdata/golden/check-responses.json"

// goldenCorpus is, in a fixed order, the fixture mix; the mix as Envoy
// sends it with encode_raw_headers and pack_as_bytes (header_map,
// raw_body); the mix with each user's token; the SDK session as each user.
func goldenCorpus(t *testing.T) []*authv3.CheckRequest {
	t.Helper()
	mix := loadMix(t, "testdata/mcp-mix.json")
	out := append([]*authv3.CheckRequest(nil), mix...)
	for _, m := range mix {
		out = append(out, rawForm(m))
	}
	toks := tokens(t)
	users := make([]string, 0, len(toks))
	for u := range toks {
		users = append(users, u)
	}
	slices.Sort(users)
	var traffic sdkTraffic
	b, err := os.ReadFile("testdata/sdk-ts-traffic.json")
	if err != nil || json.Unmarshal(b, &traffic) != nil {
		t.Fatalf("sdk traffic: %v", err)
	}
	for _, u := range users {
		for _, m := range mix {
			c := proto.Clone(m).(*authv3.CheckRequest)
			if h := c.GetAttributes().GetRequest().GetHttp().GetHeaders(); h["authorization"] != "" {
				h["authorization"] = "Bearer " + toks[u]
			}
			out = append(out, c)
		}
		for _, r := range traffic.Requests {
			out = append(out, envoyRequest(r.Method, r.Path, r.Headers, r.Body, toks[u]))
		}
	}
	return out
}

// rawForm is req with its headers in header_map (sorted, raw_value) and its
// body in raw_body.
func rawForm(req *authv3.CheckRequest) *authv3.CheckRequest {
	c := proto.Clone(req).(*authv3.CheckRequest)
	h := c.GetAttributes().GetRequest().GetHttp()
	hm := &corev3.HeaderMap{}
	for _, k := range slices.Sorted(maps.Keys(h.GetHeaders())) {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(h.GetHeaders()[k])})
	}
	h.Headers, h.HeaderMap = nil, hm
	h.RawBody, h.Body = []byte(h.GetBody()), ""
	return c
}

// handoffTime is the decision time in a handoff, the one field of a
// response that follows the clock.
var handoffTime = regexp.MustCompile(`"time":"[^"]*"`)

// goldenForm is resp with the clock's fields replaced (the handoff's time,
// the rate limiter's remaining count and reset), every other byte kept.
func goldenForm(resp *authv3.CheckResponse) *authv3.CheckResponse {
	c := proto.Clone(resp).(*authv3.CheckResponse)
	for _, h := range c.GetOkResponse().GetResponseHeadersToAdd() {
		if h.GetHeader().GetKey() == "ratelimit" {
			h.Header.Value = limiterState.ReplaceAllString(h.GetHeader().GetValue(), ";$1=?")
		}
	}
	if v, ok := c.GetDynamicMetadata().GetFields()[policy.HandoffKey]; ok {
		c.DynamicMetadata.Fields[policy.HandoffKey] = structpb.NewStringValue(handoffTime.ReplaceAllString(v.GetStringValue(), `"time":"?"`))
	}
	return c
}

// TestCheckResponsesGolden: every response to goldenCorpus equals the one
// recorded in testdata/golden (proto.Equal: every header, in order, every
// body and metadata byte). Rewrite with -update only when a response is
// meant to change.
func TestCheckResponsesGolden(t *testing.T) {
	comp := buildComponents(t, testConfig)
	reqs := goldenCorpus(t)
	got := make([]json.RawMessage, len(reqs))
	for i, req := range reqs {
		resp, err := comp.Server.Check(context.Background(), req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got[i], err = protojson.Marshal(goldenForm(resp)); err != nil {
			t.Fatal(err)
		}
	}
	if *updateGolden {
		b, _ := json.MarshalIndent(got, "", " ")
		if err := os.WriteFile(goldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to record)", err)
	}
	var want []json.RawMessage
	if err := json.Unmarshal(b, &want); err != nil || len(want) != len(got) {
		t.Fatalf("%s: %d responses, %v; want %d", goldenPath, len(want), err, len(got))
	}
	for i := range want {
		w, g := &authv3.CheckResponse{}, &authv3.CheckResponse{}
		if err := protojson.Unmarshal(want[i], w); err != nil {
			t.Fatal(err)
		}
		_ = protojson.Unmarshal(got[i], g)
		if !proto.Equal(w, g) {
			t.Errorf("request %d: response\n%s\nwant\n%s", i, got[i], want[i])
		}
	}
}
