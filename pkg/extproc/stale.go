package extproc

import (
	"context"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// StaleHeader is the response header an upstream MCP server sets to say the
// third party refused the credential of one or more providers (a
// comma-separated list of provider names). It is removed before the
// response reaches the client.
const StaleHeader = "x-mcp-connection-stale"

// markTimeout bounds the store write of one stale mark.
const markTimeout = 2 * time.Second

// StaleMarker is told that the upstream refused a credential Check injected
// (connect.Service): the next call refreshes it or elicits again.
type StaleMarker interface {
	MarkStale(ctx context.Context, iss, sub, provider, version string) error
}

// noteStale marks stale the injected credentials the upstream says it
// refused, and returns the response headers to remove (StaleHeader, which
// is for us, not for the client). The upstream names them in StaleHeader; a
// 401 without a WWW-Authenticate challenge names every injected one (an MCP
// server refusing its own caller must send the challenge, so a bare 401 on a
// request carrying third-party credentials is about them). Only providers
// injected into this request can be marked.
func (s *Server) noteStale(ctx context.Context, ex *exchange, hm *corev3.HeaderMap) []string {
	named, present := headerValues(hm, StaleHeader)
	var remove []string
	if present {
		remove = []string{StaleHeader}
	}
	if ex.in == nil || len(ex.injected) == 0 || s.opts.Connections == nil {
		return remove
	}
	var refused []string
	switch hdr := headerMap(hm); {
	case present:
		refused = splitNames(named)
	case hdr[":status"] == "401" && hdr["www-authenticate"] == "":
		for p := range ex.injected {
			refused = append(refused, p)
		}
	}
	slices.Sort(refused)
	for _, p := range slices.Compact(refused) {
		if v, ok := ex.injected[p]; ok {
			s.markStale(ctx, ex, p, v)
		}
	}
	return remove
}

// markStale records one refusal; a store failure is logged, and the
// response still passes (it is the upstream's answer either way).
func (s *Server) markStale(ctx context.Context, ex *exchange, provider, version string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	p := ex.in.Principal
	if err := s.opts.Connections.MarkStale(ctx, p.Issuer, p.Subject, provider, version); err != nil {
		s.opts.Logger.Warn("extproc: marking a refused credential stale failed", "provider", provider, "cause", err.Error())
		return
	}
	s.opts.Logger.Info("extproc: upstream refused a credential; marked stale", "provider", provider, "method", ex.method())
}

// headerValues returns every value of the header name (lower-case).
func headerValues(hm *corev3.HeaderMap, name string) ([]string, bool) {
	var out []string
	for _, h := range hm.GetHeaders() {
		if strings.ToLower(h.GetKey()) != name {
			continue
		}
		v := h.GetValue()
		if v == "" && len(h.GetRawValue()) > 0 {
			v = string(h.GetRawValue())
		}
		out = append(out, v)
	}
	return out, out != nil
}

// splitNames splits comma-separated header values into trimmed names.
func splitNames(values []string) []string {
	var out []string
	for _, v := range values {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// withRemovals adds headers to remove to a response-headers answer (an
// immediate response replaces the upstream's headers anyway).
func withRemovals(resp *extprocv3.ProcessingResponse, remove []string) *extprocv3.ProcessingResponse {
	hr := resp.GetResponseHeaders()
	if len(remove) == 0 || hr == nil {
		return resp
	}
	if hr.Response == nil {
		hr.Response = &extprocv3.CommonResponse{}
	}
	if hr.Response.HeaderMutation == nil {
		hr.Response.HeaderMutation = &extprocv3.HeaderMutation{}
	}
	hr.Response.HeaderMutation.RemoveHeaders = append(hr.Response.HeaderMutation.RemoveHeaders, remove...)
	return resp
}
