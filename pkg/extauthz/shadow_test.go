package extauthz

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/connect"
	"github.com/mcp-authz/mcp-authz/pkg/decisionlog"
	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// memRecorder keeps every event.
type memRecorder struct {
	mu  sync.Mutex
	evs []decisionlog.Event
}

func (m *memRecorder) Log(ev decisionlog.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evs = append(m.evs, ev)
}

func (m *memRecorder) last(t *testing.T) decisionlog.Event {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.evs) == 0 {
		t.Fatal("no decision-log event")
	}
	return m.evs[len(m.evs)-1]
}

func TestShadowModeAnswersAllow(t *testing.T) {
	tok := mint(t, nil)
	for _, tc := range []struct {
		name       string
		dec        *fakeDecider
		spec       func() reqSpec
		wantAllow  bool
		wantReason string
	}{
		{"policy deny", &fakeDecider{d: policy.Decision{Reason: "tool_not_allowed"}}, func() reqSpec { return baseSpec(tok) }, true, "tool_not_allowed"},
		{"request check deny", &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed"}}, func() reqSpec {
			s := baseSpec(tok)
			s.headers["content-type"] = "text/plain"
			return s
		}, true, "unsupported_content_type"},
		{"policy error is the policy's", &fakeDecider{err: denial.New(denial.PolicyError, nil)}, func() reqSpec { return baseSpec(tok) }, true, "policy_error"},
		{"no bundle still denies", &fakeDecider{err: denial.New(denial.NoPolicy, nil)}, func() reqSpec { return baseSpec(tok) }, false, "no_policy"},
		{"deadline still denies", &fakeDecider{err: denial.New(denial.Deadline, nil)}, func() reqSpec { return baseSpec(tok) }, false, "deadline_exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &memRecorder{}
			s := newTestServer(t, tc.dec, func(o *Options) { o.Shadow = true; o.Recorder = rec })
			shadowAll(s)
			resp, err := s.Check(context.Background(), tc.spec().build())
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetOkResponse() != nil; got != tc.wantAllow {
				t.Errorf("Check allow = %v; want %v", got, tc.wantAllow)
			}
			r := rec.last(t).Record
			if r.GetDecision() != "deny" || r.GetReason() != tc.wantReason || r.GetMode() != "shadow" {
				t.Errorf("record decision %q reason %q mode %q; want deny %q shadow", r.GetDecision(), r.GetReason(), r.GetMode(), tc.wantReason)
			}
			if want := decisionName(tc.wantAllow); r.GetEnforcedDecision() != want {
				t.Errorf("record enforced_decision %q; want %q", r.GetEnforcedDecision(), want)
			}
		})
	}
}

// shadowAll puts every hop of s in shadow mode.
func shadowAll(s *Server) {
	hops := s.opts.Hops.Hops()
	for i := range hops {
		hops[i].Shadow = true
	}
	s.opts.Hops = hop.New(hops)
}

func TestShadowModeOverloadStillDenies(t *testing.T) {
	s := newTestServer(t, &fakeDecider{d: policy.Decision{Reason: "tool_not_allowed"}}, func(o *Options) { o.Shadow = true; o.MaxInFlight = 1 })
	shadowAll(s)
	s.slots <- struct{}{} // the one slot is taken
	defer func() { <-s.slots }()
	resp, _ := s.Check(context.Background(), baseSpec(mint(t, nil)).build())
	if d := viewDenied(t, resp); d.reason != "overloaded" {
		t.Errorf("overloaded shadow Check reason %q; want overloaded", d.reason)
	}
}

func TestRecordNeverHoldsCredentials(t *testing.T) {
	rec := &memRecorder{}
	tok := mint(t, nil)
	s := newTestServer(t, &fakeDecider{d: policy.Decision{Allow: true, Reason: "allowed", Meta: policy.Meta{Revision: "r9"}}},
		func(o *Options) { o.Recorder = rec })
	spec := baseSpec(tok)
	spec.headers["cookie"] = "session=cookie-secret"
	spec.headers["x-request-id"] = "req-\xff-1"
	if _, err := s.Check(context.Background(), spec.build()); err != nil {
		t.Fatal(err)
	}
	ev := rec.last(t)
	line, err := decisionlog.MarshalLine(ev.Record)
	if err != nil {
		t.Fatalf("record does not marshal: %v", err)
	}
	for _, secret := range []string{tok, "cookie-secret", "Bearer"} {
		if strings.Contains(string(line), secret) {
			t.Errorf("record %s holds %q", line, secret)
		}
	}
	r := ev.Record
	if r.GetSubject() != "alice" || r.GetTool() != "issues/search_issues" && r.GetTool() != "search_issues" || r.GetBundleRevision() != "r9" {
		t.Errorf("record subject %q tool %q revision %q; want alice, search_issues, r9", r.GetSubject(), r.GetTool(), r.GetBundleRevision())
	}
	for _, stage := range []string{"view", "parse", "verify", "policy", "response"} {
		if _, ok := r.GetStageLatencyNs()[stage]; !ok {
			t.Errorf("record stage_latency_ns lacks %s: %v", stage, r.GetStageLatencyNs())
		}
	}
}

// fakeConnections is a connect service with one provider and no stored
// credentials: every call that needs it elicits.
type fakeConnections struct{}

func (fakeConnections) Status(context.Context, string, string) (map[string]policy.Connection, error) {
	return map[string]policy.Connection{}, nil
}
func (fakeConnections) Elicit(context.Context, connect.Binding) (connect.Elicitation, error) {
	return connect.Elicitation{ID: "e1", URL: "https://mcp.example/connect/e/e1", Message: "connect mail"}, nil
}
func (fakeConnections) Inject(context.Context, string, string, []string) (connect.Injection, error) {
	return connect.Injection{Headers: map[string]string{}}, nil
}
func (fakeConnections) Headers() []string                               { return []string{"x-mcp-connection-mail"} }
func (fakeConnections) RecordCapabilities(string, string, string, bool) {}
func (fakeConnections) URLCapable(string, string, string) bool          { return false }
func (fakeConnections) SealState(connect.Binding, connect.RequestTarget) (string, error) {
	return "", nil
}
func (fakeConnections) CheckState(string, string, string, string, connect.RequestTarget) error {
	return nil
}

// TestShadowModeStripsProviderHeaders: a connection_required call answered
// with an allow in shadow mode, and an allow whose decision names no
// connection, still remove the client's copy of a provider header, so an
// upstream never sees a provider credential the gate did not set.
func TestShadowModeStripsProviderHeaders(t *testing.T) {
	tok := mint(t, nil)
	for _, tc := range []struct {
		name   string
		shadow bool
		d      policy.Decision
	}{
		{"shadow connection_required", true, policy.Decision{Reason: "connection_required",
			NeedsConnection: &policy.NeedsConnection{Provider: "mail"}}},
		{"enforce allow without connections", false, policy.Decision{Allow: true, Reason: "allowed"}},
		{"shadow policy deny", true, policy.Decision{Reason: "tool_not_allowed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, &fakeDecider{d: tc.d}, func(o *Options) { o.Shadow = tc.shadow; o.Connections = fakeConnections{} })
			if tc.shadow {
				shadowAll(s)
			}
			spec := baseSpec(tok)
			spec.headers["x-mcp-connection-mail"] = "client-supplied"
			resp, err := s.Check(context.Background(), spec.build())
			if err != nil {
				t.Fatal(err)
			}
			ok := resp.GetOkResponse()
			if ok == nil {
				t.Fatalf("Check denied: %v", resp.GetDeniedResponse())
			}
			if !slices.Contains(ok.GetHeadersToRemove(), "x-mcp-connection-mail") {
				t.Errorf("headers_to_remove = %v; want the client's x-mcp-connection-mail removed", ok.GetHeadersToRemove())
			}
			for _, h := range ok.GetHeaders() {
				if h.GetHeader().GetKey() == "x-mcp-connection-mail" {
					t.Errorf("the gate set x-mcp-connection-mail = %q with no credential", h.GetHeader().GetValue())
				}
			}
		})
	}
}
