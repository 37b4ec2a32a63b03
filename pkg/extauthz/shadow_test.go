package extauthz

import (
	"context"
	"strings"
	"sync"
	"testing"

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
