package tlsreload

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The reload is driven by injected triggers, never by waiting: the clock
// is the test's (r.clock) and every replacement gets its own modification
// time (os.Chtimes), so whether a handshake sees a change does not depend
// on the file system's time resolution or on how fast the machine is.

// fakeClock is a clock the test advances.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// pair is a certificate and key as PEM, with the certificate's serial.
type pair struct {
	cert, key []byte
	serial    int64
}

// newPair issues a self-signed leaf certificate with serial, signed by
// itself (parent nil) or by a CA pair.
func newPair(t *testing.T, serial int64, parent *pair) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: parent == nil, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	signer, signerCert := any(key), tmpl
	if parent != nil {
		pc, err := tls.X509KeyPair(parent.cert, parent.key)
		if err != nil {
			t.Fatal(err)
		}
		signer = pc.PrivateKey
		if signerCert, err = x509.ParseCertificate(pc.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pair{cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), serial: serial}
}

// files is one listener's files in a temporary directory.
type files struct {
	Files
	stamp time.Time // the next modification time to set
}

func newFiles(t *testing.T) *files {
	dir := t.TempDir()
	return &files{Files: Files{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")},
		stamp: time.Unix(1_700_000_000, 0)}
}

// put replaces path's content and gives it a modification time of its own.
func (f *files) put(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f.stamp = f.stamp.Add(time.Minute)
	if err := os.Chtimes(path, f.stamp, f.stamp); err != nil {
		t.Fatal(err)
	}
}

func (f *files) putPair(t *testing.T, p pair) {
	t.Helper()
	f.put(t, f.CertFile, p.cert)
	f.put(t, f.KeyFile, p.key)
}

// newReloader builds a Reloader on f with the test's clock, logging to logs.
func newReloader(t *testing.T, f Files, logs *bytes.Buffer) (*Reloader, *fakeClock) {
	t.Helper()
	r, err := New(f, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	r.mu.Lock()
	r.clock, r.checked = clock.Now, clock.Now()
	r.mu.Unlock()
	return r, clock
}

// handshake runs one TLS handshake over an in-memory pipe against r and
// returns the serial of the certificate the server presented, or the
// client's handshake error. client, when set, is the client certificate.
func handshake(t *testing.T, r *Reloader, client *pair) (int64, error) {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"} // the test reads the served serial itself
	if client != nil {
		c, err := tls.X509KeyPair(client.cert, client.key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	srv := tls.Server(sc, r.Config())
	done := make(chan error, 1)
	go func() { done <- srv.Handshake(); sc.Close() }()
	cl := tls.Client(cc, cfg)
	err := cl.Handshake()
	if err == nil { // TLS 1.3: the client learns of a refused certificate on its first read
		_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = cl.Read(make([]byte, 1))
		if err != nil && strings.Contains(err.Error(), "EOF") {
			err = nil
		}
	}
	srvErr := <-done
	if err == nil && srvErr != nil {
		err = srvErr
	}
	if st := cl.ConnectionState(); len(st.PeerCertificates) > 0 {
		return st.PeerCertificates[0].SerialNumber.Int64(), err
	}
	return 0, err
}

func wantSerial(t *testing.T, what string, r *Reloader, want int64) {
	t.Helper()
	got, err := handshake(t, r, nil)
	if err != nil || got != want {
		t.Fatalf("%s: handshake served serial %d (error %v); want %d", what, got, err, want)
	}
}

// TestReloadServesReplacedCertificate: a replaced certificate is served
// by the first handshake after the check interval, and not before.
func TestReloadServesReplacedCertificate(t *testing.T) {
	f := newFiles(t)
	f.putPair(t, newPair(t, 1, nil))
	var logs bytes.Buffer
	r, clock := newReloader(t, f.Files, &logs)
	wantSerial(t, "at start", r, 1)

	f.putPair(t, newPair(t, 2, nil))
	wantSerial(t, "replaced, within the check interval", r, 1)
	clock.Advance(DefaultInterval)
	wantSerial(t, "replaced, after the check interval", r, 2)
	if !strings.Contains(logs.String(), "tls: certificate reloaded") {
		t.Errorf("no reload log line:\n%s", logs.String())
	}
}

// TestReloadKeepsLastGoodCertificate: a replacement that does not load (a
// broken PEM, a key of another certificate, a file removed mid-rotation)
// is logged and the last good certificate keeps serving; a good one after
// it is picked up.
func TestReloadKeepsLastGoodCertificate(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, f *files)
	}{
		{"broken certificate PEM", func(t *testing.T, f *files) {
			f.put(t, f.CertFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"))
		}},
		{"key of another certificate", func(t *testing.T, f *files) { f.put(t, f.KeyFile, newPair(t, 9, nil).key) }},
		{"key file removed", func(t *testing.T, f *files) {
			if err := os.Remove(f.KeyFile); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFiles(t)
			f.putPair(t, newPair(t, 1, nil))
			var logs bytes.Buffer
			r, clock := newReloader(t, f.Files, &logs)
			tc.breakIt(t, f)
			clock.Advance(DefaultInterval)
			wantSerial(t, "after a broken replacement", r, 1)
			f.putPair(t, newPair(t, 3, nil))
			clock.Advance(DefaultInterval)
			wantSerial(t, "after a good replacement", r, 3)
		})
	}
}

// TestReloadClientCA: with a client CA, a client certificate of the CA is
// accepted and one of another CA refused; replacing the CA file swaps
// which one is accepted.
func TestReloadClientCA(t *testing.T) {
	caA, caB := newPair(t, 100, nil), newPair(t, 200, nil)
	clientA, clientB := newPair(t, 101, &caA), newPair(t, 201, &caB)
	f := newFiles(t)
	f.ClientCAFile = filepath.Join(filepath.Dir(f.CertFile), "ca.crt")
	f.putPair(t, newPair(t, 1, nil))
	f.put(t, f.ClientCAFile, caA.cert)
	var logs bytes.Buffer
	r, clock := newReloader(t, f.Files, &logs)

	if _, err := handshake(t, r, &clientA); err != nil {
		t.Fatalf("client of CA A with CA A: %v; want accepted", err)
	}
	if _, err := handshake(t, r, &clientB); err == nil {
		t.Fatal("client of CA B with CA A: accepted; want refused")
	}
	f.put(t, f.ClientCAFile, caB.cert)
	clock.Advance(DefaultInterval)
	if _, err := handshake(t, r, &clientB); err != nil {
		t.Fatalf("client of CA B after the CA was replaced: %v; want accepted", err)
	}
	if _, err := handshake(t, r, &clientA); err == nil {
		t.Fatal("client of CA A after the CA was replaced: accepted; want refused")
	}
}
