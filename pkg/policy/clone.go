package policy

import (
	"maps"
	"slices"
)

// clone returns d with maps, slices and pointed-to values of its own. The
// decision cache keeps one decoded Decision per projection and answers
// every hit with a clone of it: callers may change what Decide returns (a
// map they fill, a header they drop), and that must never reach the next
// caller. Copying is a fraction of decoding the policy's result again.
// Meta is the engine's, not the policy's: Decide sets it on every call.
func (d Decision) clone() Decision {
	c := d
	c.RPCError = clonePtr(d.RPCError)
	c.Challenge = clonePtr(d.Challenge)
	c.UpstreamHeaders = maps.Clone(d.UpstreamHeaders)
	c.ResponseHeaders = maps.Clone(d.ResponseHeaders)
	c.DynamicMetadata = cloneJSONMap(d.DynamicMetadata)
	if d.UpstreamToken != nil {
		u := *d.UpstreamToken
		u.Claims = cloneJSONMap(u.Claims)
		c.UpstreamToken = &u
	}
	c.Remediation = clonePtr(d.Remediation)
	if d.NeedsConnection != nil {
		n := *d.NeedsConnection
		n.Scopes = slices.Clone(n.Scopes)
		c.NeedsConnection = &n
	}
	c.Connections = slices.Clone(d.Connections)
	c.RateLimits = cloneRateLimits(d.RateLimits)
	return c
}

// clonePtr copies a struct without references behind a pointer.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// cloneRateLimits copies the limits and their rates and budgets.
func cloneRateLimits(ls []RateLimit) []RateLimit {
	out := slices.Clone(ls)
	for i := range out {
		out[i].Rate = clonePtr(out[i].Rate)
		out[i].Budget = clonePtr(out[i].Budget)
	}
	return out
}

// cloneJSONMap deep-copies a decoded JSON object (metadataValue's types:
// maps and lists are copied, scalars are immutable). A nil map stays nil.
func cloneJSONMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneJSON(v)
	}
	return out
}

// cloneJSON deep-copies one decoded JSON value.
func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneJSONMap(x)
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneJSON(e)
		}
		return out
	}
	return v
}
