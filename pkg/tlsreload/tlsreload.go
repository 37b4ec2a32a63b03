// Package tlsreload serves TLS (and optionally mTLS) from certificate files
// that may be replaced while the service runs: cert-manager, SPIRE or a
// mounted Kubernetes secret rotate them in place. The files are checked at
// most once per interval, on a handshake; a changed set that fails to load
// is logged and the last good one keeps serving.
package tlsreload

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultInterval bounds how often the files are checked for changes.
const DefaultInterval = time.Second

// Files are one listener's TLS files.
type Files struct {
	// CertFile and KeyFile are the PEM certificate chain and private key.
	CertFile, KeyFile string
	// ClientCAFile, when set, requires client certificates signed by it (mTLS).
	ClientCAFile string
}

// Reloader holds a listener's current certificate and client CA pool.
type Reloader struct {
	files    Files
	log      *slog.Logger
	interval time.Duration
	clock    func() time.Time

	mu      sync.Mutex
	checked time.Time
	stamp   string
	cert    *tls.Certificate
	pool    *x509.CertPool
}

// New loads the files once (an error fails the start) and returns a
// reloader serving them.
func New(f Files, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{files: f, log: log, interval: DefaultInterval, clock: time.Now}
	stamp, err := r.stampFiles()
	if err != nil {
		return nil, err
	}
	cert, pool, err := r.load()
	if err != nil {
		return nil, err
	}
	r.stamp, r.cert, r.pool, r.checked = stamp, cert, pool, r.clock()
	return r, nil
}

// Config returns the server TLS config: TLS 1.2 or later, the current
// certificate and, with a client CA, verified client certificates. protos
// are the ALPN protocols offered (gRPC needs "h2").
func (r *Reloader) Config(protos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: protos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := r.current()
			c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}, NextProtos: protos}
			if pool != nil {
				c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
			}
			return c, nil
		},
	}
}

// current returns the certificate and pool, reloading them first when the
// files changed since the last check (at most once per interval).
func (r *Reloader) current() (*tls.Certificate, *x509.CertPool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.clock(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		r.reloadLocked()
	}
	return r.cert, r.pool
}

func (r *Reloader) reloadLocked() {
	stamp, err := r.stampFiles()
	if err != nil || stamp == r.stamp {
		return
	}
	cert, pool, err := r.load()
	if err != nil {
		r.log.Warn("tls: changed certificate files do not load; the last good ones keep serving", "cert_file", r.files.CertFile, "error", err.Error())
		return
	}
	r.stamp, r.cert, r.pool = stamp, cert, pool
	r.log.Info("tls: certificate reloaded", "cert_file", r.files.CertFile)
}

// stampFiles describes the files' sizes and modification times.
func (r *Reloader) stampFiles() (string, error) {
	s := ""
	for _, p := range []string{r.files.CertFile, r.files.KeyFile, r.files.ClientCAFile} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		s += fmt.Sprintf("%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

func (r *Reloader) load() (*tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(r.files.CertFile, r.files.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: certificate: %w", err)
	}
	if r.files.ClientCAFile == "" {
		return &cert, nil, nil
	}
	pool, err := LoadCAPool(r.files.ClientCAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: client CA: %w", err)
	}
	return &cert, pool, nil
}

// LoadCAPool reads a PEM CA bundle into a pool that must hold at least one
// certificate. It is the one reader of CA files for every listener and
// every outbound client (key sets, bundle server, token exchange, Redis),
// so an empty or mistyped bundle is refused the same way everywhere.
func LoadCAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %q holds no PEM certificate", path)
	}
	return pool, nil
}
