package policy

import (
	"context"
	"fmt"
	"time"
)

// smokeInput is a request every policy must be able to decide: an
// initialize by a principal with no roles, on no known hop. A bundle whose
// decision query errors, is undefined or malformed for it would deny every
// request, so it is refused before it can replace a working revision.
func smokeInput() *Input {
	return &Input{
		HTTP: HTTP{Method: "POST", Path: "/mcp", Host: "smoke.invalid", Scheme: "https", Headers: map[string]string{}},
		MCP:  MCP{Revision: "2025-06-18", Kind: "request", Method: "initialize", KnownMethod: true, ID: []byte("1")},
		Principal: Principal{Subject: "smoke", Issuer: "https://smoke.invalid", Audience: []string{"https://smoke.invalid/mcp"},
			Scopes: []string{}, Roles: []string{}, TokenType: "Bearer", Claims: map[string]any{"sub": "smoke"}},
		Resource: Resource{ID: "https://smoke.invalid/mcp"},
	}
}

// smokeDeadline bounds the smoke query. It is not the per-request deadline
// (50 ms by default): the first evaluation of a freshly prepared revision is
// the cold one, and on a busy machine a valid bundle must not be refused, nor
// the service fail to start, because the scheduler was slow for 50 ms. A
// policy that truly hangs is still refused.
const smokeDeadline = 10 * time.Second

// smoke evaluates the smoke input on snap.
func (e *Engine) smoke(ctx context.Context, snap *snapshot) error {
	if _, err := e.decideOn(ctx, snap, smokeInput(), nil, max(e.opts.Deadline, smokeDeadline)); err != nil {
		return fmt.Errorf("smoke query: %w", err)
	}
	return nil
}
