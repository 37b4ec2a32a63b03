// Package envoyshim is a test-only stand-in for Envoy's HTTP ext_authz and
// ext_proc filters: a loopback reverse proxy that asks a real
// envoy.service.auth.v3.Authorization server over gRPC before forwarding a
// request, applies the CheckResponse the way Envoy does, and (when
// configured) runs the envoy.service.ext_proc.v3 exchange on the request and
// response. No Envoy binary exists where the tests run; this gate lets real
// MCP clients and servers (the official Go and TypeScript SDKs) talk through
// mcp-authz exactly as they would through Envoy, so the end-to-end tests
// judge the product, not our own idea of the traffic.
//
// What it reproduces, field for field, from Envoy's
// filters/common/ext_authz/check_request_utils.cc and
// filters/http/ext_authz/ext_authz.cc:
//
//   - body buffering under with_request_body: up to max_request_bytes; over
//     it, 413 when allow_partial_message is false, else the first
//     max_request_bytes with x-envoy-auth-partial-body: true. A request
//     without a body (GET, DELETE) is not buffered and carries no
//     x-envoy-auth-partial-body header; a client's own copy of that header
//     is never reported.
//   - the CheckRequest: id (a stream id), method, path, host, scheme,
//     protocol, size (bytes received when the check starts), pseudo-headers
//     :authority :path :method :scheme beside the lower-cased headers, the
//     headers map with repeats joined by "," or, with encode_raw_headers,
//     header_map with every repeat as its own raw_value entry; body, or
//     raw_body with pack_as_bytes; source and destination socket addresses
//     and principals (URI SAN, else DNS SAN, else subject of the peer and
//     local certificates), source.certificate with include_peer_certificate,
//     context_extensions, metadata_context (always present, as Envoy sends
//     it) and request.time.
//   - the CheckResponse: an OK status applies ok_response.headers by
//     append_action (the deprecated append flag too), THEN
//     headers_to_remove (never pseudo-headers or host), query parameter
//     mutations, and keeps response_headers_to_add for the response; any
//     other status is a local reply with the denied_response status
//     (default 403), headers and body; a gRPC error or timeout is
//     status_on_error (default 403) unless failure_mode_allow.
//   - the connection manager's own request headers before the filter chain:
//     x-forwarded-proto and x-request-id (kept when the client sent one).
//   - ext_proc (optional): one gRPC stream per HTTP request with the
//     configured ProcessingMode (request headers, request body BUFFERED,
//     response headers, response body BUFFERED or STREAMED), header and body
//     mutations, immediate responses, metadata forwarding (the ext_authz
//     dynamic metadata under envoy.filters.http.ext_authz).
//
// Fidelity limits (known, deliberate):
//
//   - Header ORDER: Go's net/http does not keep the wire order across names,
//     so header_map lists pseudo-headers first, then names sorted, each
//     name's values in wire order, then x-envoy-auth-partial-body. Envoy
//     keeps the wire order. Nothing in mcp-authz depends on the order.
//   - Go's server folds the Host header into :authority and drops
//     hop-by-hop headers (connection, keep-alive, proxy-connection, upgrade,
//     transfer-encoding); Envoy's HTTP/1 codec does the same for the
//     hop-by-hop set. Go rejects some malformed requests (bad header bytes,
//     conflicting Content-Length) before the gate sees them, where Envoy
//     would answer 400 itself: either way the authz server never sees them.
//   - The body string (pack_as_bytes false) is sent as received when it is
//     valid UTF-8; Envoy replaces invalid bytes, the shim replaces them with
//     U+FFFD (strings.ToValidUTF8). Use pack_as_bytes, as the examples do.
//   - No route table, retries, circuit breaking, header mutation rules,
//     x-envoy-expected-rq-timeout-ms, x-forwarded-for, tracing headers or
//     per-route filter config: context_extensions and metadata_context are
//     set per gate (or per request through Config.Metadata).
//   - ext_proc: FULL_DUPLEX_STREAMED, GRPC body mode, trailers, attributes,
//     mode_override and observability_mode are outside this gate (Envoy has
//     them; the gate does not reproduce them); STREAMED
//     response bodies are exchanged one upstream read at a time.
//   - The gate is HTTP/1.1 (or HTTP/2 over TLS when Config.TLS is set), on
//     loopback only.
package envoyshim
