package extauthz

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/hop"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
	"github.com/mcp-authz/mcp-authz/pkg/ratelimit"
	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// Limiter counts the rate limits and budgets an allowed decision names.
type Limiter interface {
	Take(ctx context.Context, req ratelimit.Request) (ratelimit.Result, error)
}

// CodeRateLimited is the JSON-RPC error code of a request refused by a rate
// limit or budget: MCP's draft RateLimited (SEP-3304), sent with HTTP 429.
const CodeRateLimited = -32023

// init adds the rate limiter's failures to the denial table (kept here,
// beside the code that produces them).
func init() {
	failures[denial.RateLimitUnavailable] = failure{503, codeInternal}
	failures[denial.ReplayCacheUnavailable] = failure{503, codeInternal}
}

// limit counts an allowed outcome against the rate limits of its decision,
// after authorization, so a denied request spends nothing. A refusing limit
// turns it into a 429; a limiter that cannot count refuses (503).
// The result goes to t for the decision log.
func (s *Server) limit(ctx context.Context, o outcome, v *view, t *trail, h hop.Hop) outcome {
	if !o.allow || s.opts.Limiter == nil || o.decision == nil || len(o.decision.RateLimits) == 0 {
		return o
	}
	msg := t.msg
	req := ratelimit.Request{Limits: limitsOf(o.decision.RateLimits), Tool: toolID(msg, h), RequestID: v.requestID}
	res, err := s.opts.Limiter.Take(ctx, req)
	if err != nil {
		return s.fail(denial.New(denial.RateLimitUnavailable, err), msg.ID, h)
	}
	t.limits, t.limitsAt = res, s.opts.Clock()
	if st, denied := res.Denied(); denied {
		return s.rateLimited(st, msg)
	}
	if st, ok := res.Tightest(); ok {
		o.headers = rateHeaders(st)
	}
	return o
}

// rateLimited is the 429 of a refusing limit: Retry-After, the IETF
// RateLimit-Policy and RateLimit fields, SEP-3304's RateLimit-Limit and
// RateLimit-Remaining, and a -32023 error whose data says when to retry.
func (s *Server) rateLimited(st ratelimit.Status, msg *mcp.Message) outcome {
	reason := denial.RateLimited
	if st.Limit.Kind == ratelimit.KindBudget {
		reason = denial.BudgetExhausted
	}
	o := outcome{reason: string(reason), status: 429, id: msg.ID, headers: rateHeaders(st),
		cause: fmt.Errorf("limit %q refused the request", st.Limit.Name)}
	o.headers["retry-after"] = strconv.FormatInt(ceilSeconds(st.RetryAfter, 1), 10)
	o.headers["ratelimit-limit"] = strconv.FormatInt(st.Limit.Quota, 10)
	o.headers["ratelimit-remaining"] = strconv.FormatInt(st.Remaining, 10)
	if msg.Kind == mcp.KindRequest {
		o.rpcCode = CodeRateLimited
		o.rpcData = map[string]any{
			"retryAfterMs": st.RetryAfter.Milliseconds(), "limit": st.Limit.Quota, "remaining": st.Remaining,
			"policy": st.Limit.Name,
		}
		if st.Limit.Kind == ratelimit.KindBudget {
			o.rpcData["resetAt"] = s.opts.Clock().Add(st.Reset).UTC().Truncate(time.Second).Format(time.RFC3339)
		}
	}
	return o
}

// rateHeaders are the draft-ietf-httpapi-ratelimit-headers fields of one
// limit: its policy (quota q over window w seconds) and its state
// (r remaining, t seconds until whole again).
func rateHeaders(st ratelimit.Status) map[string]string {
	// Both values are built in one buffer and converted once; each header
	// is a slice of that string.
	var stack [192]byte
	b := strconv.AppendQuote(stack[:0], st.Limit.Name) // snake_case: a valid sf-string
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, st.Limit.Quota, 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, ceilSeconds(st.Limit.Window, 1), 10)
	mid := len(b)
	b = strconv.AppendQuote(b, st.Limit.Name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, st.Remaining, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(st.Reset, 0), 10)
	all := string(b)
	return map[string]string{"ratelimit-policy": all[:mid], "ratelimit": all[mid:]}
}

// ceilSeconds rounds d up to whole seconds, at least lo.
func ceilSeconds(d time.Duration, lo int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, lo)
}

// limitsOf converts the decision's limits for the limiter.
func limitsOf(rls []policy.RateLimit) []ratelimit.Limit {
	out := make([]ratelimit.Limit, 0, len(rls))
	for _, r := range rls {
		l := ratelimit.Limit{Name: r.Name, Key: r.Key, Cost: r.Cost}
		switch {
		case r.Rate != nil:
			l.Kind, l.Quota, l.Burst = ratelimit.KindRate, r.Rate.Requests, r.Rate.Burst
			l.Window = time.Duration(r.Rate.Window) * time.Second
		case r.Budget != nil:
			l.Kind, l.Quota = ratelimit.KindBudget, r.Budget.Units
			l.Window = time.Duration(r.Budget.Window) * time.Second
		}
		out = append(out, l)
	}
	return out
}

// toolID is the canonical tool id of a tools/call ("" otherwise): a metric
// label only, bounded by the registry since limits count allowed calls.
func toolID(msg *mcp.Message, h hop.Hop) string {
	if msg.Tool == "" {
		return ""
	}
	return h.Server + "/" + msg.Tool
}

// limitRecords are the decision log's view of the limits a request was
// counted against at `at`: what it charged (nothing when refused) and what
// remains, per partition. Keys come from verified claims and tool ids and
// are bounded by ratelimit.Limit.Validate; they go to the log, never to a
// metric label.
func limitRecords(res ratelimit.Result, at time.Time) []*mcpauthzv1.RateLimitStatus {
	if len(res.Statuses) == 0 {
		return nil
	}
	out := make([]*mcpauthzv1.RateLimitStatus, len(res.Statuses))
	for i, st := range res.Statuses {
		l := st.Limit
		var cost int64
		if res.Allowed {
			cost = 1
			if l.Kind == ratelimit.KindBudget {
				cost = l.Cost
			}
		}
		out[i] = &mcpauthzv1.RateLimitStatus{
			Name: l.Name, Kind: l.Kind.String(), Key: clean(l.Key, maxLimitKeyBytes), Allowed: st.Allowed, Cost: cost,
			Quota: l.Quota, WindowSeconds: int64(l.Window / time.Second), Remaining: st.Remaining,
			ResetAt: timestamppb.New(at.Add(st.Reset)), RetryAfterMs: st.RetryAfter.Milliseconds(),
		}
	}
	return out
}

// maxLimitKeyBytes bounds a limit key in a record (the limiter refuses longer ones).
const maxLimitKeyBytes = 1024
