package envoyshim

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Envoy's defaults for the fields Config leaves at zero.
const (
	// DefaultTimeout is ext_authz's grpc_service timeout default (200ms).
	DefaultTimeout = 200 * time.Millisecond
	// DefaultStatusOnError is ext_authz's status_on_error default.
	DefaultStatusOnError = http.StatusForbidden
	// DefaultMaxRequestBytes is what examples/envoy/envoy.yaml configures.
	DefaultMaxRequestBytes = 1 << 20
)

// BodySettings mirrors ext_authz's with_request_body (BufferSettings).
type BodySettings struct {
	// MaxRequestBytes is max_request_bytes (0: DefaultMaxRequestBytes).
	MaxRequestBytes uint32
	// AllowPartialMessage is allow_partial_message: send the first
	// MaxRequestBytes instead of answering 413.
	AllowPartialMessage bool
	// PackAsBytes is pack_as_bytes: the body goes in raw_body, not body.
	PackAsBytes bool
}

// Config is the ext_authz (and optional ext_proc) filter configuration of
// one gate, named after Envoy's fields.
type Config struct {
	// Authz is the ext_authz gRPC service (required).
	Authz authv3.AuthorizationClient
	// Upstream is the cluster the gate forwards allowed requests to
	// (required): only its scheme and host:port are used. The client's path
	// and :authority are kept, as Envoy's router does.
	Upstream *url.URL
	// Body is with_request_body; nil means the body is not sent.
	Body *BodySettings
	// EncodeRawHeaders is encode_raw_headers: header_map instead of headers.
	EncodeRawHeaders bool
	// IncludePeerCertificate is include_peer_certificate.
	IncludePeerCertificate bool
	// ContextExtensions are the per-route check_settings.context_extensions.
	ContextExtensions map[string]string
	// Metadata returns metadata_context for a request (the namespaces
	// metadata_context_namespaces would select); nil sends an empty one.
	// It sees the buffered body, as a filter before ext_authz would.
	Metadata func(r *http.Request, body []byte) *corev3.Metadata
	// SourcePrincipal and DestinationPrincipal, when set, replace the
	// principals taken from the TLS connection: what an Istio sidecar
	// reports (SPIFFE IDs) without setting up mTLS in a test.
	SourcePrincipal, DestinationPrincipal string
	// Timeout bounds each Check (0: DefaultTimeout, Envoy's 200ms).
	Timeout time.Duration
	// FailureModeAllow is failure_mode_allow.
	FailureModeAllow bool
	// StatusOnError is status_on_error (0: DefaultStatusOnError).
	StatusOnError int
	// TLS, when set, makes the gate listen with TLS (HTTP/2 by ALPN);
	// ClientAuth in it gives mTLS and a source principal.
	TLS *tls.Config
	// ExtProc, when set, runs the ext_proc filter after ext_authz.
	ExtProc *ExtProcConfig
	// Observe, when set, sees every Check the gate makes (request,
	// response or error), for tests that inspect the wire.
	Observe func(*authv3.CheckRequest, *authv3.CheckResponse, error)
}

// validate reports a configuration the gate cannot run with.
func (c *Config) validate() error {
	var errs []error
	if c.Authz == nil {
		errs = append(errs, errors.New("envoyshim: Config.Authz is required"))
	}
	if c.Upstream == nil {
		errs = append(errs, errors.New("envoyshim: Config.Upstream is required"))
	}
	if c.ExtProc != nil && c.ExtProc.Client == nil {
		errs = append(errs, errors.New("envoyshim: ExtProcConfig.Client is required"))
	}
	return errors.Join(errs...)
}

// timeout is the Check deadline with Envoy's default.
func (c *Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// statusOnError is status_on_error with Envoy's default.
func (c *Config) statusOnError() int {
	if c.StatusOnError > 0 {
		return c.StatusOnError
	}
	return DefaultStatusOnError
}

// maxBytes is max_request_bytes with the default.
func (b *BodySettings) maxBytes() int {
	if b.MaxRequestBytes > 0 {
		return int(b.MaxRequestBytes)
	}
	return DefaultMaxRequestBytes
}
