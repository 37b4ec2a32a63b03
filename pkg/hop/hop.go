// Package hop resolves which protected resource (RFC 8707) a request is for.
//
// One deployment can front many MCP servers; each hop has its own resource
// identifier, and a token minted for one hop must be refused at another. The
// hop comes from Envoy's per-route context_extensions when present (they are
// operator configuration, not client input) and otherwise from a table of
// host + path. Istio's CUSTOM provider sets no context_extensions, so the
// table must work alone. Paths match exactly: "//mcp", "/mcp;x", "/MCP" and
// percent-encoded forms are different paths and are refused.
package hop

import (
	"net"
	"strings"
)

// Hop is one protected MCP endpoint.
type Hop struct {
	// Host is the :authority to match (lower case, no port); "" matches any.
	Host string
	// Path is the endpoint path, matched exactly.
	Path string
	// Resource is the resource identifier tokens must carry in aud.
	Resource string
	// PublicOrigin is the origin clients use (DPoP htu, resource_metadata).
	PublicOrigin string
	// Server is the registry name of the upstream MCP server ("" = by resource).
	Server string
	// DestinationPrincipal, when set, must equal Envoy's
	// destination.principal (in Istio, the SPIFFE ID of the workload whose
	// sidecar asks). Unlike Host, the client cannot choose it, so it is what
	// tells hops apart when one mcp-authz serves many workloads on one path.
	DestinationPrincipal string
	// Shadow is shadow mode for this hop: a deny the policy (or a request
	// check) decides is logged as such but answered with an allow; the
	// service's own failures still deny.
	Shadow bool
}

// Table resolves requests to hops. It is immutable after New.
type Table struct {
	hops []Hop
	pins map[string]bool // destination principals some hop is pinned to
}

// ContextKeyResource is the context_extensions key naming the hop's resource.
const ContextKeyResource = "resource"

// ContextKeyServer is the context_extensions key naming the hop's upstream
// server in the registry (optional; the registry is searched by resource
// otherwise).
const ContextKeyServer = "server"

// New returns a table over hops; hosts are normalised to lower case without port.
func New(hops []Hop) *Table {
	t := &Table{hops: make([]Hop, len(hops)), pins: map[string]bool{}}
	for i, h := range hops {
		h.Host = normHost(h.Host)
		t.hops[i] = h
		if h.DestinationPrincipal != "" {
			t.pins[h.DestinationPrincipal] = true
		}
	}
	return t
}

// Resolve returns the hop for a request. path may carry a query string,
// which is ignored; the path itself must match exactly. A context_extensions
// resource selects the hop with that resource, and the path must still be
// its path. dest is Envoy's destination.principal: when some hop is pinned
// to it, only the hops pinned to it are candidates; otherwise only the hops
// pinned to no destination are. So a request reaching a pinned workload can
// never resolve to another workload's hop, whatever Host it sends.
func (t *Table) Resolve(host, path string, ctxExt map[string]string, dest string) (Hop, bool) {
	p := PathOnly(path)
	if !t.pins[dest] {
		dest = ""
	}
	if r := ctxExt[ContextKeyResource]; r != "" {
		for _, h := range t.hops {
			if h.Resource == r && h.Path == p && h.destOK(dest) {
				if srv := ctxExt[ContextKeyServer]; srv != "" {
					h.Server = srv
				}
				return h, true
			}
		}
		return Hop{}, false
	}
	host = normHost(host)
	for _, h := range t.hops {
		if h.Path == p && (h.Host == "" || h.Host == host) && h.destOK(dest) {
			return h, true
		}
	}
	return Hop{}, false
}

// destOK: dest is the hop's pinned principal, or "" for unpinned hops.
func (h Hop) destOK(dest string) bool { return h.DestinationPrincipal == dest }

// Default returns the hop whose metadata a 401 points at when the request
// matched no hop (the first configured).
func (t *Table) Default() Hop {
	if len(t.hops) == 0 {
		return Hop{}
	}
	return t.hops[0]
}

// Hops returns a copy of the configured hops.
func (t *Table) Hops() []Hop { return append([]Hop(nil), t.hops...) }

// PathOnly returns p without its query string.
func PathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

func normHost(h string) string {
	h = strings.ToLower(h)
	// Without a colon net.SplitHostPort can only fail (missing port), and
	// its error costs an allocation per request: go straight to the trim.
	if strings.IndexByte(h, ':') >= 0 {
		if host, _, err := net.SplitHostPort(h); err == nil {
			return host
		}
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}
