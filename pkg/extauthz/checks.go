package extauthz

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// singleHeaders may appear at most once: a second copy could be read by the
// upstream instead of the one we judged.
var singleHeaders = []string{
	"authorization", "content-type", "content-length", "content-encoding", "origin",
	"dpop", "mcp-method", "mcp-name", "mcp-protocol-version", "mcp-session-id",
}

// paramHeaderPrefix marks the 2026-07-28 headers that mirror tool
// arguments (x-mcp-header): each may appear once, like Mcp-Name.
const paramHeaderPrefix = "mcp-param-"

// checkBody enforces the body limits and Envoy's partial-body signal.
func (s *Server) checkBody(v *view) error {
	if strings.EqualFold(v.first("x-envoy-auth-partial-body"), "true") {
		return denial.New(denial.PartialBody, errors.New("envoy sent a partial body"))
	}
	n := v.bodyLen()
	if n > s.opts.Limits.MaxBytes {
		return denial.New(denial.BodyTooLarge, fmt.Errorf("body of %d bytes over the limit of %d", n, s.opts.Limits.MaxBytes))
	}
	cl := v.first("content-length")
	if cl == "" {
		return nil
	}
	cn, err := strconv.ParseInt(cl, 10, 64)
	if err != nil || cn < 0 {
		return denial.New(denial.InvalidHeaderValue, errors.New("content-length is not a number"))
	}
	if cn > int64(n) {
		return denial.New(denial.ContentLength, fmt.Errorf("content-length %d larger than the %d bytes received", cn, n))
	}
	if cn < int64(n) {
		return denial.New(denial.InvalidHeaderValue, fmt.Errorf("content-length %d smaller than the %d bytes received", cn, n))
	}
	return nil
}

// checkMethod allows POST, and GET/DELETE (SSE stream, session end).
func checkMethod(v *view) error {
	switch v.method {
	case "POST", "GET", "DELETE":
		return nil
	}
	return denial.New(denial.MethodNotAllowed, fmt.Errorf("method %q", v.method))
}

// checkSingleHeaders refuses repeated security-relevant headers.
func checkSingleHeaders(v *view) error {
	for _, h := range singleHeaders {
		if len(v.headers.get(h)) > 1 {
			return denial.New(denial.DuplicateHeader, fmt.Errorf("repeated %s header", h))
		}
	}
	for h, vals := range v.headers.all() {
		if len(vals) > 1 && strings.HasPrefix(h, paramHeaderPrefix) {
			return denial.New(denial.DuplicateHeader, fmt.Errorf("repeated %s header", h))
		}
	}
	return nil
}

// checkContent enforces identity encoding and, for POST, application/json.
func checkContent(v *view) error {
	if ce := strings.TrimSpace(v.first("content-encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return denial.New(denial.ContentEncoding, fmt.Errorf("content-encoding %q", ce))
	}
	if v.method != "POST" {
		if v.bodyLen() > 0 {
			return denial.New(denial.UnexpectedBody, fmt.Errorf("%s with a body", v.method))
		}
		return nil
	}
	ct := v.first("content-type")
	if ct == "application/json" {
		return nil // what ParseMediaType would accept, without its parameter map
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return denial.New(denial.ContentType, errors.New("content-type is not application/json"))
	}
	for k, val := range params {
		if k != "charset" || !strings.EqualFold(val, "utf-8") {
			return denial.New(denial.ContentType, fmt.Errorf("content-type parameter %q", k))
		}
	}
	return nil
}

// checkOrigin refuses a browser Origin that is not configured (the MCP
// transport spec's DNS-rebinding protection).
func (s *Server) checkOrigin(v *view) error {
	o := v.first("origin")
	if o == "" {
		return nil
	}
	if _, ok := s.origins[strings.ToLower(o)]; ok {
		return nil
	}
	return denial.New(denial.OriginNotAllowed, errors.New("origin not allowed"))
}
