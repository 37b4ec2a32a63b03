package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/redact"
	"github.com/mcp-authz/mcp-authz/pkg/tlsreload"
)

// maxRedirects bounds same-host redirects of a key-set or discovery fetch.
const maxRedirects = 3

// errRedirectHost is returned when a fetch is redirected to another host.
var errRedirectHost = errors.New("redirect to another host refused")

// fetchClient performs bounded GETs for one issuer: each request runs in
// the issuer's lifetime context plus the fetch timeout (never a Check's
// context: a fetch a Check joined goes on after the Check gave up), and
// returns a response whose body is already read, capped and closed.
type fetchClient struct {
	ctx       context.Context
	hc        *http.Client
	transport *http.Transport
	timeout   time.Duration
	maxBytes  int64
}

// newFetchClient builds the HTTP client of one issuer: a timeout, TLS 1.2+
// trusting only caFile's CAs when set, no redirect to another host, no
// downgrade to http unless insecure.
func newFetchClient(ctx context.Context, ic IssuerConfig, timeout time.Duration, maxBytes int) (*fetchClient, error) {
	tr, err := tlsreload.NewTransport(ic.CAFile, timeout, 2)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: redirectPolicy(ic.InsecureHTTP),
	}
	return &fetchClient{ctx: ctx, hc: hc, transport: tr, timeout: timeout, maxBytes: int64(maxBytes)}, nil
}

// redirectPolicy allows a few redirects to the same host, never a scheme
// downgrade unless insecure.
func redirectPolicy(insecure bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
			return errRedirectHost
		}
		if req.URL.Scheme != "https" && !insecure {
			return errors.New("redirect to plain http refused")
		}
		return nil
	}
}

// Get fetches u and returns the response with its body read into memory
// (at most maxBytes) and the network body closed.
func (c *fetchClient) Get(u string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact.URL(u), httpError(err))
	}
	defer res.Body.Close()
	body, err := readCapped(res.Body, c.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact.URL(u), err)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// httpError wraps an HTTP client error at our boundary: *url.Error quotes
// the whole URL (query and userinfo included) and redirect errors the
// target, so only the inner cause survives, scrubbed by redact.
func httpError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return redact.Wrap("key_set_fetch_failed", err)
}

// readCapped reads r fully, failing when it holds more than max bytes.
func readCapped(r io.Reader, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("response exceeds %d bytes", max)
	}
	return body, nil
}

// getJSON fetches u, requires 200 and decodes the JSON body into dst.
func (c *fetchClient) getJSON(u string, dst any) error {
	res, err := c.Get(u)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", redact.URL(u), res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(dst); err != nil {
		return fmt.Errorf("GET %s: decode JSON: %w", redact.URL(u), redact.Wrap("metadata_malformed", err))
	}
	return nil
}

// close drops the client's idle connections.
func (c *fetchClient) close() { c.transport.CloseIdleConnections() }

// serverMetadata is the part of OIDC discovery / RFC 8414 metadata we use.
type serverMetadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// discover fetches the metadata document of ic and returns its jwks_uri,
// after checking that its issuer is ic.Issuer (RFC 8414 section 3.3) and
// that jwks_uri is an acceptable URL.
func discover(c *fetchClient, ic IssuerConfig) (string, error) {
	var md serverMetadata
	if err := c.getJSON(ic.DiscoveryURL, &md); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if md.Issuer != ic.Issuer {
		return "", fmt.Errorf("discovery: metadata issuer %q does not match %q", md.Issuer, ic.Issuer)
	}
	if err := checkFetchURL(md.JWKSURI, ic.InsecureHTTP); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return md.JWKSURI, nil
}
