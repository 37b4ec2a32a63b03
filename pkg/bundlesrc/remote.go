package bundlesrc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
)

// RemoteConfig configures a bundle server source.
type RemoteConfig struct {
	// URL is the bundle's full URL on the bundle server.
	URL string
	// MinDelay, MaxDelay and LongPollingTimeout are OPA's polling settings
	// (rounded to whole seconds; LongPollingTimeout 0 disables it).
	MinDelay, MaxDelay, LongPollingTimeout time.Duration
	// CredentialsFile holds a bearer token, read at each request.
	CredentialsFile string
	// CAFile is a PEM bundle trusted for the server's TLS.
	CAFile string
	// Verification, when set, requires every bundle signed with it.
	Verification *bundle.VerificationConfig
	// PersistDir keeps the last good bundle ("" = none).
	PersistDir string
	// MaxBytes bounds any one file of a bundle.
	MaxBytes int64
	// Logger receives activations and refusals.
	Logger *slog.Logger
	// Clock is the time source (default time.Now).
	Clock func() time.Time
}

// Remote polls a bundle server with OPA's downloader and activates every
// new revision it serves.
type Remote struct {
	cfg     RemoteConfig
	eng     Activator
	track   *tracker
	dl      *download.Downloader
	log     *slog.Logger
	started bool
}

// NewRemote builds the downloader; Start begins polling.
func NewRemote(cfg RemoteConfig, eng Activator) (*Remote, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	client, path, err := restClient(cfg)
	if err != nil {
		return nil, err
	}
	r := &Remote{cfg: cfg, eng: eng, track: newTracker("url", cfg.Clock), log: cfg.Logger}
	dc := download.Config{Polling: download.PollingConfig{
		MinDelaySeconds: seconds(cfg.MinDelay), MaxDelaySeconds: seconds(cfg.MaxDelay),
	}}
	if cfg.LongPollingTimeout > 0 {
		dc.Polling.LongPollingTimeoutSeconds = seconds(cfg.LongPollingTimeout)
	}
	if err := dc.ValidateAndInjectDefaults(); err != nil {
		return nil, fmt.Errorf("bundlesrc: polling: %w", err)
	}
	r.dl = download.New(dc, client, path).
		WithCallback(r.update).
		WithBundleVerificationConfig(cfg.Verification).
		WithSizeLimitBytes(cfg.MaxBytes).
		WithBundlePersistence(cfg.PersistDir != "")
	return r, nil
}

func seconds(d time.Duration) *int64 {
	s := max(int64(d/time.Second), 1)
	return &s
}

// restClient builds OPA's REST client for the server of cfg.URL and
// returns the bundle's path on it.
func restClient(cfg RemoteConfig) (rest.Client, string, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return rest.Client{}, "", errors.New("bundlesrc: invalid bundle url")
	}
	path := strings.TrimPrefix(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	svc := map[string]any{"name": "bundle", "url": u.Scheme + "://" + u.Host}
	if cfg.CredentialsFile != "" {
		svc["credentials"] = map[string]any{"bearer": map[string]any{"token_path": cfg.CredentialsFile}}
	}
	if cfg.CAFile != "" {
		svc["tls"] = map[string]any{"ca_cert": cfg.CAFile}
	}
	raw, err := json.Marshal(svc)
	if err != nil {
		return rest.Client{}, "", fmt.Errorf("bundlesrc: %w", err)
	}
	client, err := rest.New(raw, nil)
	if err != nil {
		return rest.Client{}, "", fmt.Errorf("bundlesrc: bundle server client: %w", err)
	}
	return client, path, nil
}

// LoadPersisted activates the bundle a previous run persisted, if any,
// so a restart while the bundle server is down still serves it.
func (r *Remote) LoadPersisted(ctx context.Context) {
	if r.cfg.PersistDir != "" && r.eng.Revision() == "" {
		r.loadPersisted(ctx)
	}
}

// Start begins polling; it never blocks on the bundle server.
func (r *Remote) Start(ctx context.Context) {
	r.dl.Start(ctx)
	r.started = true
}

// Stop stops polling.
func (r *Remote) Stop(ctx context.Context) {
	if r.started {
		r.dl.Stop(ctx)
	}
}

// Status reports the active revision and the last error.
func (r *Remote) Status() Status { return r.track.status() }

// update is the downloader's callback: activate a new bundle or record
// why there is none. It returns nil so a refused revision is not fetched
// again until the server has another (its ETag is kept).
func (r *Remote) update(ctx context.Context, u download.Update) error {
	switch {
	case u.Error != nil:
		r.refuse(downloadError(u.Error), "")
	case u.Bundle == nil:
		return nil // 304: nothing new
	default:
		r.activate(ctx, u.Bundle, u.Raw)
	}
	return nil
}

func (r *Remote) activate(ctx context.Context, b *bundle.Bundle, raw io.Reader) {
	rev := b.Manifest.Revision
	if err := r.eng.Activate(ctx, b); err != nil {
		r.refuse(err, rev)
		return
	}
	r.track.activated(rev)
	r.log.Info("bundle activated", "source", "url", "revision", rev)
	if r.cfg.PersistDir != "" && raw != nil {
		if err := persist(r.cfg.PersistDir, raw); err != nil {
			r.log.Warn("bundle: could not persist the active revision", "revision", rev, "error", err.Error())
		}
	}
}

func (r *Remote) refuse(err error, rev string) {
	r.track.refused(err)
	r.log.Warn("bundle refused; the last good revision keeps serving", "source", "url", "revision", rev,
		"active", r.eng.Revision(), "error", err.Error())
}

// loadPersisted activates the bundle persisted by a previous run.
func (r *Remote) loadPersisted(ctx context.Context) {
	data, err := readPersisted(r.cfg.PersistDir)
	if err != nil {
		if !errors.Is(err, errNoPersisted) {
			r.refuse(err, "")
		}
		return
	}
	reader := bundle.NewCustomReader(bundle.NewTarballLoader(bytes.NewReader(data)).WithSizeLimitBytes(r.cfg.MaxBytes)).
		WithSizeLimitBytes(r.cfg.MaxBytes)
	if r.cfg.Verification != nil {
		reader = reader.WithBundleVerificationConfig(r.cfg.Verification)
	} else {
		reader = reader.WithSkipBundleVerification(true)
	}
	b, err := reader.Read()
	if err != nil {
		r.refuse(fmt.Errorf("persisted bundle: %w", err), "")
		return
	}
	r.log.Info("serving the persisted bundle until the bundle server answers", "revision", b.Manifest.Revision)
	r.activate(ctx, &b, nil)
}

// downloadError describes a failed download without the URL (its query
// may carry a credential) and without the server's body.
func downloadError(err error) error {
	var he download.HTTPError
	if errors.As(err, &he) {
		return fmt.Errorf("download: the bundle server answered %d", he.StatusCode)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("download: the bundle server timed out")
		}
		return errors.New("download: the bundle server is unreachable")
	}
	return fmt.Errorf("download: %w", err)
}
