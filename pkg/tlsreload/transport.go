package tlsreload

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// NewTransport is the bounded transport of one outbound HTTPS peer (an
// issuer's key set, a token exchange service): a timeout on dialing, the
// TLS handshake and the response headers, TLS 1.2+ trusting only caFile's
// CAs when set, and at most idlePerHost idle connections kept. Callers
// add their own whole-request timeout and redirect policy.
func NewTransport(caFile string, timeout time.Duration, idlePerHost int) (*http.Transport, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := LoadCAPool(caFile)
		if err != nil {
			return nil, err
		}
		tlsConf.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   idlePerHost,
		ForceAttemptHTTP2:     true,
	}, nil
}
