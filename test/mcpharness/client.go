package mcpharness

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Auth is what a client presents on every HTTP request it sends.
type Auth struct {
	// Token is the access token (empty: none).
	Token string
	// DPoP, when set, sends "Authorization: DPoP <token>" with a fresh proof
	// for PublicURL on every request.
	DPoP *DPoPKey
	// Host is the :authority the client uses (the public host Envoy fronts);
	// the connection goes to the gate's loopback address.
	Host string
	// PublicURL is the endpoint as the client knows it, the DPoP htu.
	PublicURL string
}

// Transport adds Auth to each request, as an MCP client behind a public
// name talks to Envoy.
type Transport struct {
	Auth Auth
	Base http.RoundTripper
}

// RoundTrip sets the Host and credentials on a copy of req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if t.Auth.Host != "" {
		r.Host = t.Auth.Host
	}
	switch {
	case t.Auth.DPoP != nil:
		htu := t.Auth.PublicURL
		if u, err := url.Parse(htu); err == nil {
			u.RawQuery = ""
			htu = u.String()
		}
		proof, err := t.Auth.DPoP.Proof(r.Method, htu, t.Auth.Token)
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "DPoP "+t.Auth.Token)
		r.Header.Set("DPoP", proof)
	case t.Auth.Token != "":
		r.Header.Set("Authorization", "Bearer "+t.Auth.Token)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// HTTPClient is an http.Client presenting auth.
func HTTPClient(auth Auth) *http.Client {
	return &http.Client{Transport: &Transport{Auth: auth}}
}

// ClientOptions configures Connect.
type ClientOptions struct {
	// ProtocolVersion asks for a revision (empty: the SDK's latest).
	ProtocolVersion string
	// DisableStandaloneSSE skips the GET stream of the session revisions.
	DisableStandaloneSSE bool
	// Client is the SDK client's options (progress handlers, …).
	Client *mcp.ClientOptions
	// Base carries the client's HTTP requests under the auth (nil:
	// http.DefaultTransport), for tests that watch what the client receives.
	Base http.RoundTripper
}

// Connect opens an official Go SDK client session to endpoint with auth;
// the session is closed at the end of t.
func Connect(ctx context.Context, t testing.TB, endpoint string, auth Auth, opts ClientOptions) (*mcp.ClientSession, error) {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpharness-client", Version: "1.0.0"}, opts.Client)
	tr := &mcp.StreamableClientTransport{
		Endpoint: endpoint, HTTPClient: &http.Client{Transport: &Transport{Auth: auth, Base: opts.Base}}, MaxRetries: -1,
		DisableStandaloneSSE: opts.DisableStandaloneSSE,
	}
	cs, err := c.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: opts.ProtocolVersion})
	if err != nil {
		return nil, fmt.Errorf("mcp connect %s: %w", endpoint, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs, nil
}
