package extauthz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/url"
	"slices"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// peerCert returns a self-signed certificate with the URI SAN as Envoy's
// include_peer_certificate sends it: URL-encoded PEM.
func peerCert(t *testing.T, san string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(san)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), URIs: []*url.URL{u},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
}

func TestCheckPeerCertificateURISANs(t *testing.T) {
	const spiffe = "spiffe://cluster.local/ns/agents/sa/planner"
	cert := peerCert(t, spiffe)
	tests := []struct {
		name, cert string
		want       []string
	}{
		{"certificate", cert, []string{spiffe}},
		{"same certificate again (cached)", cert, []string{spiffe}},
		{"not a certificate", url.QueryEscape("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), nil},
		{"not URL-encoded PEM", "%zz", nil},
		{"none", "", nil},
	}
	dec := &fakeDecider{d: allowDecision}
	s := newTestServer(t, dec, nil) // one server: the second row is served from its cache
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec.got = nil
			req := baseSpec(mint(t, nil)).build()
			req.Attributes.Source = &authv3.AttributeContext_Peer{Principal: spiffe, Certificate: tc.cert}
			if _, err := s.Check(context.Background(), req); err != nil || dec.got == nil {
				t.Fatalf("Check = %v; decider called: %v", err, dec.got != nil)
			}
			if got := dec.got.Workload.URISANs; !slices.Equal(got, tc.want) {
				t.Errorf("input.workload.uri_sans = %v; want %v", got, tc.want)
			}
			if dec.got.Workload.Principal != spiffe {
				t.Errorf("input.workload.principal = %q; want %q", dec.got.Workload.Principal, spiffe)
			}
		})
	}
}
