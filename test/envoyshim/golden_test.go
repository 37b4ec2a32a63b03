package envoyshim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// goldenCase replays one real Envoy capture through the gate: the HTTP
// request the capture describes is sent to a gate configured as that Envoy
// was, and the CheckRequest the gate builds must equal the capture once
// volatile values (stream id, time, socket addresses, x-request-id) are
// masked and the capture's documented caveats are applied.
type goldenCase struct {
	file string
	cfg  func(t *testing.T, want *authv3.CheckRequest) Config
	// caveat adjusts the gate's request for what the capture's Envoy
	// version did differently (SOURCES.json "caveats").
	caveat func(got *authv3.CheckRequest)
}

func TestGoldenCheckRequests(t *testing.T) {
	cases := []goldenCase{
		{file: "checkrequest_istio_sidecar_mtls_post_json_body.json", cfg: istioConfig},
		{file: "checkrequest_istio_sidecar_plaintext_get_no_body.json", cfg: istioConfig},
		{
			file: "checkrequest_opa_docs_http1_post_json_body.json",
			cfg: func(*testing.T, *authv3.CheckRequest) Config {
				return Config{Body: &BodySettings{MaxRequestBytes: 8192}}
			},
			// Envoy of 2020: no :scheme for HTTP/1 and no x-envoy-auth-partial-body.
			caveat: func(got *authv3.CheckRequest) {
				h := got.GetAttributes().GetRequest().GetHttp()
				h.Scheme = ""
				delete(h.Headers, ":scheme")
				delete(h.Headers, partialBodyHeader)
			},
		},
		{file: "checkrequest_jwt_authn_metadata_http2_grpc_rawbody.json", cfg: jwtAuthnConfig},
	}
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			want := loadCapture(t, tc.file)
			got := replay(t, tc, want)
			if tc.caveat != nil {
				tc.caveat(got)
			}
			mask(t, "want", want)
			mask(t, "got", got)
			if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
				t.Errorf("CheckRequest differs from the Envoy capture (-capture +gate):\n%s", d)
			}
		})
	}
}

// istioConfig is an Istio sidecar's ext_authz: body as a string, the
// SPIFFE principals the sidecar reports.
func istioConfig(_ *testing.T, want *authv3.CheckRequest) Config {
	a := want.GetAttributes()
	return Config{
		Body:                 &BodySettings{MaxRequestBytes: 8192},
		SourcePrincipal:      a.GetSource().GetPrincipal(),
		DestinationPrincipal: a.GetDestination().GetPrincipal(),
	}
}

// jwtAuthnConfig is the capture's Envoy: TLS with a server certificate for
// envoy.yourdomain.com, HTTP/2, pack_as_bytes, allow_partial_message, and
// jwt_authn metadata selected by metadata_context_namespaces.
func jwtAuthnConfig(t *testing.T, want *authv3.CheckRequest) Config {
	cert := selfSigned(t, "envoy.yourdomain.com")
	meta := want.GetAttributes().GetMetadataContext()
	return Config{
		Body:     &BodySettings{MaxRequestBytes: 1024, AllowPartialMessage: true, PackAsBytes: true},
		TLS:      &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		Metadata: func(*http.Request, []byte) *corev3.Metadata { return proto.Clone(meta).(*corev3.Metadata) },
	}
}

// loadCapture reads a capture from testdata/envoy.
func loadCapture(t *testing.T, file string) *authv3.CheckRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "envoy", file))
	if err != nil {
		t.Fatal(err)
	}
	req := &authv3.CheckRequest{}
	if err := protojson.Unmarshal(b, req); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return req
}

// replay sends the capture's HTTP request through a gate built by tc.cfg
// and returns the CheckRequest the gate built.
func replay(t *testing.T, tc goldenCase, want *authv3.CheckRequest) *authv3.CheckRequest {
	t.Helper()
	authz, client := startAuthz(t, allow)
	up, _ := startUpstream(t, nil)
	cfg := tc.cfg(t, want)
	cfg.Authz, cfg.Upstream, cfg.Timeout = client, MustURL(t, up.URL), 10*time.Second
	g := Start(t, cfg)
	resp, err := captureClient(cfg).Do(httpRequestOf(t, g.URL(), want))
	if err != nil {
		t.Fatalf("request through the gate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gate answered %d; want 200", resp.StatusCode)
	}
	return authz.last(t)
}

// captureClient is an HTTP client that adds nothing of its own (no
// Accept-Encoding) and speaks HTTP/2 to a TLS gate.
func captureClient(cfg Config) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	if cfg.TLS != nil {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the test's own self-signed gate
		tr.ForceAttemptHTTP2 = true
	}
	return &http.Client{Transport: tr}
}

// envoyAdded are the headers Envoy itself adds, never sent by the client.
var envoyAdded = map[string]bool{"x-forwarded-proto": true, "x-request-id": true, partialBodyHeader: true, "content-length": true}

// httpRequestOf rebuilds the client's HTTP request from a capture.
func httpRequestOf(t *testing.T, base string, c *authv3.CheckRequest) *http.Request {
	t.Helper()
	h := c.GetAttributes().GetRequest().GetHttp()
	body := h.GetRawBody()
	if body == nil {
		body = []byte(h.GetBody())
	}
	var rd *bytes.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(h.GetMethod(), base+h.GetPath(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Body, req.ContentLength = readCloser{rd}, int64(len(body))
		if _, ok := h.GetHeaders()["content-length"]; !ok {
			req.ContentLength = -1 // the capture's client streamed the body (gRPC)
		}
	}
	req.Host = h.GetHost()
	for k, v := range h.GetHeaders() {
		if !strings.HasPrefix(k, ":") && !envoyAdded[k] {
			req.Header.Set(k, v)
		}
	}
	return req
}

// readCloser hides the reader's type so that net/http does not set a
// Content-Length on its own.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// mask replaces the volatile values of a CheckRequest with placeholders,
// keeping which fields are present.
func mask(t *testing.T, which string, c *authv3.CheckRequest) {
	t.Helper()
	a := c.GetAttributes()
	h := a.GetRequest().GetHttp()
	if h.GetId() == "" || a.GetRequest().GetTime() == nil {
		t.Errorf("%s: id %q, time %v; want both set", which, h.GetId(), a.GetRequest().GetTime())
	}
	h.Id, a.Request.Time = "ID", nil
	if id, ok := h.Headers["x-request-id"]; ok {
		if !uuidRE.MatchString(id) {
			t.Errorf("%s: x-request-id %q is not a UUID", which, id)
		}
		h.Headers["x-request-id"] = "UUID"
	}
	for _, p := range []*authv3.AttributeContext_Peer{a.GetSource(), a.GetDestination()} {
		sa := p.GetAddress().GetSocketAddress()
		if sa == nil || sa.GetAddress() == "" || sa.GetPortValue() == 0 {
			t.Errorf("%s: peer address %v; want a socket address", which, p.GetAddress())
			continue
		}
		sa.Address, sa.PortSpecifier = "ADDR", &corev3.SocketAddress_PortValue{PortValue: 1}
	}
}

// selfSigned is a throwaway ECDSA certificate for dnsName.
func selfSigned(t *testing.T, dnsName string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
