package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Defaults for FetchOptions fields left zero.
const (
	// DefaultFetchTimeout bounds one whole FetchTools call.
	DefaultFetchTimeout = 30 * time.Second
	// DefaultMaxFetchTools bounds the number of tools a server may list.
	DefaultMaxFetchTools = 1000
	// DefaultMaxFetchBytes bounds the response bytes read from a server.
	DefaultMaxFetchBytes = 8 << 20
)

// ErrFetchLimit is wrapped when a server exceeds FetchOptions.MaxTools or
// MaxBytes.
var ErrFetchLimit = errors.New("upstream exceeded a fetch limit")

// FetchOptions bound one FetchTools call.
type FetchOptions struct {
	// Timeout bounds the whole call: connect, initialize, every page (0
	// means DefaultFetchTimeout).
	Timeout time.Duration
	// MaxTools is the most tools accepted (0 means DefaultMaxFetchTools).
	MaxTools int
	// MaxBytes bounds all response bytes read (0 means DefaultMaxFetchBytes).
	MaxBytes int64
	// Transport carries the HTTP requests. nil means a private clone of
	// http.DefaultTransport whose idle connections are closed afterwards.
	Transport http.RoundTripper
	// Logger receives the MCP SDK's client log (nil discards it).
	Logger *slog.Logger
}

func (o FetchOptions) withDefaults() FetchOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultFetchTimeout
	}
	if o.MaxTools <= 0 {
		o.MaxTools = DefaultMaxFetchTools
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxFetchBytes
	}
	return o
}

// FetchTools connects to the MCP server at endpoint (Streamable HTTP) with
// the official Go SDK, sending "Authorization: Bearer <bearerToken>" when
// the token is not empty, lists every page of tools and returns each tool's
// whole definition as the server sent it (numbers as json.Number), keyed by
// name. The SDK decides which tools are valid (it drops, for example, tools
// with invalid x-mcp-header declarations); the definitions are taken from
// the raw responses so fields the SDK does not model still count. Errors
// never contain the token.
func FetchTools(ctx context.Context, endpoint, bearerToken string, opts FetchOptions) (map[string]map[string]any, error) {
	opts = opts.withDefaults()
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("registry: fetch: endpoint must be an absolute http(s) URL")
	}
	where := u.Redacted()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	rec := &recorder{limit: opts.MaxBytes}
	base := opts.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		defer t.CloseIdleConnections()
		base = t
	}
	hc := &http.Client{Timeout: opts.Timeout, Transport: &bearerTransport{base: base, token: bearerToken, rec: rec},
		CheckRedirect: sameHostRedirects(u.Host)}
	names, err := listToolNames(ctx, endpoint, hc, opts)
	if rec.overLimit() {
		return nil, fmt.Errorf("registry: fetch %s: %w: more than %d response bytes", where, ErrFetchLimit, opts.MaxBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: fetch %s: %w", where, err)
	}
	tools, err := rec.definitions(names, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("registry: fetch %s: %w", where, err)
	}
	return tools, nil
}

// listToolNames runs an MCP session and lists every page of tools.
func listToolNames(ctx context.Context, endpoint string, hc *http.Client, opts FetchOptions) ([]string, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "mcp-authz-registry", Version: "1.0.0"}, &mcp.ClientOptions{Logger: opts.Logger})
	transport := &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, DisableStandaloneSSE: true}
	session, err := client.Connect(ctx, transport, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	defer session.Close()
	var names []string
	seen := map[string]bool{}
	params := &mcp.ListToolsParams{}
	for {
		res, err := session.ListTools(ctx, params)
		if err != nil {
			return nil, fmt.Errorf("tools/list: %w", err)
		}
		for _, t := range res.Tools {
			if seen[t.Name] {
				return nil, fmt.Errorf("tools/list: tool %q listed twice", safeToken(t.Name))
			}
			seen[t.Name] = true
			names = append(names, t.Name)
		}
		if len(names) > opts.MaxTools {
			return nil, fmt.Errorf("%w: more than %d tools", ErrFetchLimit, opts.MaxTools)
		}
		if res.NextCursor == "" {
			return names, nil
		}
		if res.NextCursor == params.Cursor {
			return nil, errors.New("tools/list: server repeated its cursor")
		}
		params = &mcp.ListToolsParams{Cursor: res.NextCursor}
	}
}

// sameHostRedirects refuses a redirect to another host (or a downgrade to
// http): the transport adds the bearer token to every request, so it must
// never follow the upstream anywhere else.
func sameHostRedirects(host string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case len(via) >= 5:
			return errors.New("too many redirects")
		case req.URL.Host != host:
			return errors.New("redirect to another host refused")
		case len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https":
			return errors.New("redirect from https to http refused")
		}
		return nil
	}
}

// bearerTransport adds the bearer token and records response bodies.
type bearerTransport struct {
	base  http.RoundTripper
	token string
	rec   *recorder
}

// RoundTrip implements http.RoundTripper.
func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token != "" {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = t.rec.wrap(resp.Header.Get("Content-Type"), resp.Body)
	return resp, nil
}
