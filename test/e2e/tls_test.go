package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// testCA issues certificates for loopback.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// issue writes a leaf certificate (serial) and key to dir/name{.crt,.key}.
func (ca *testCA) issue(t *testing.T, dir, name string, serial int64, client bool) (crt, key string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	crt, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, crt+".tmp", "CERTIFICATE", der)
	writePEM(t, key+".tmp", "EC PRIVATE KEY", kder)
	for _, p := range []string{crt, key} { // replaced whole, as a mounted secret is
		if err := os.Rename(p+".tmp", p); err != nil {
			t.Fatal(err)
		}
	}
	return crt, key
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func TestTLSListenersWithMTLSAndReload(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.cert.Raw)
	crt, key := ca.issue(t, dir, "server", 10, false)
	ccrt, ckey := ca.issue(t, dir, "client", 20, true)
	cfg := testConfig + "tls:\n  cert_file: " + crt + "\n  key_file: " + key + "\n  client_ca_file: " + filepath.Join(dir, "ca.pem") +
		"\n  admin: {cert_file: " + crt + ", key_file: " + key + "}\n"
	a, _ := startAppYAML(t, cfg)

	clientCert, err := tls.LoadX509KeyPair(ccrt, ckey)
	if err != nil {
		t.Fatal(err)
	}
	call := func(certs []tls.Certificate) (*tls.ConnectionState, error) {
		var st tls.ConnectionState
		creds := credentials.NewTLS(&tls.Config{RootCAs: ca.pool(), Certificates: certs, VerifyConnection: func(cs tls.ConnectionState) error {
			st = cs
			return nil
		}})
		conn, err := grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(creds))
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), checkBound)
		defer cancel()
		_, err = authv3.NewAuthorizationClient(conn).Check(ctx, mcpPost{body: toolsListBody}.request())
		return &st, err
	}
	if _, err := call(nil); err == nil {
		t.Errorf("Check without a client certificate succeeded; want the mTLS handshake refused")
	}
	st, err := call([]tls.Certificate{clientCert})
	if err != nil {
		t.Fatalf("Check with a client certificate: %v", err)
	}
	if got := st.PeerCertificates[0].SerialNumber.Int64(); got != 10 {
		t.Errorf("server certificate serial %d; want 10", got)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + a.Addr("admin") + "/healthz")
	if err != nil {
		t.Fatalf("admin over TLS: %v", err)
	}
	resp.Body.Close()

	ca.issue(t, dir, "server", 11, false) // rotated in place
	waitFor(t, "the rotated certificate served", func() bool {
		st, err := call([]tls.Certificate{clientCert})
		return err == nil && st.PeerCertificates[0].SerialNumber.Int64() == 11
	})
}
