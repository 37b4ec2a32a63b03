package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcp-authz/mcp-authz/bundles"
	"github.com/mcp-authz/mcp-authz/pkg/bundlesrc"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// bundleSource feeds the engine new revisions while the service runs.
type bundleSource interface {
	Start(ctx context.Context)
	Stop(ctx context.Context)
	Status() bundlesrc.Status
}

// embeddedSource is the embedded default bundle: activated once.
type embeddedSource struct{ st bundlesrc.Status }

func (e embeddedSource) Start(context.Context)    {}
func (e embeddedSource) Stop(context.Context)     {}
func (e embeddedSource) Status() bundlesrc.Status { return e.st }

// buildBundles activates the configured bundle and prepares its source:
// a bundle server (its persisted revision now, polling from Start), a
// path reloaded on change, or the embedded default.
func (c *Components) buildBundles(ctx context.Context, bc config.Bundle, log *slog.Logger) error {
	if bc.URL != "" {
		return c.buildRemote(ctx, bc, log)
	}
	b, err := loadBundle(bc)
	if err == nil {
		err = c.Engine.Activate(ctx, b)
	}
	if err != nil {
		return fmt.Errorf("app: bundle: %w", err)
	}
	if bc.Path == "" {
		c.bundles = embeddedSource{st: bundlesrc.Status{Source: "embedded", Revision: b.Manifest.Revision,
			ActivatedAt: time.Now(), Activations: 1}}
		return nil
	}
	w := bundlesrc.NewWatch(bundlesrc.WatchConfig{Path: bc.Path, Load: func(string) (*bundle.Bundle, error) {
		return loadBundle(bc)
	}, Logger: log}, c.Engine)
	w.Activated(b.Manifest.Revision)
	c.bundles = w
	return nil
}

func (c *Components) buildRemote(ctx context.Context, bc config.Bundle, log *slog.Logger) error {
	rc := bundlesrc.RemoteConfig{
		URL: bc.URL, MinDelay: bc.Poll.MinDelay.D(), MaxDelay: bc.Poll.MaxDelay.D(),
		LongPollingTimeout: bc.Poll.LongPollingTimeout.D(), CredentialsFile: bc.CredentialsFile, CAFile: bc.CAFile,
		PersistDir: bc.PersistDir, MaxBytes: policy.DefaultMaxBundleBytes, Logger: log,
	}
	if v := verification(bc); v != nil {
		vc, err := v.OPAConfig()
		if err != nil {
			return fmt.Errorf("app: bundle signature: %w", err)
		}
		rc.Verification = vc
	}
	if u, err := url.Parse(bc.URL); err == nil && u.Scheme == "http" {
		log.Warn("[INSECURE CONFIG] bundle.url is plain http: anyone on the path can change the policy unless bundles are signed",
			"signed", bc.Verifies())
	}
	r, err := bundlesrc.NewRemote(rc, c.Engine)
	if err != nil {
		return fmt.Errorf("app: bundle: %w", err)
	}
	r.LoadPersisted(ctx)
	c.bundles = r
	return nil
}

// startBundles starts the bundle source; Close stops it.
func (c *Components) startBundles() {
	if c.bundles == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.bundles.Start(ctx)
	src := c.bundles
	c.closers = append(c.closers, func() {
		src.Stop(context.Background())
		cancel()
	})
}

// BundleStatus reports the bundle source for /readyz.
func (c *Components) BundleStatus() bundlesrc.Status {
	if c.bundles == nil {
		return bundlesrc.Status{Revision: c.Engine.Revision()}
	}
	return c.bundles.Status()
}

// bundleMetrics count activations and refusals and expose the active
// revision's activation time.
func (c *Components) bundleMetrics() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcp_authz_bundle_activations_total",
			Help: "Bundle revisions activated."}, func() float64 { return float64(c.BundleStatus().Activations) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcp_authz_bundle_refusals_total",
			Help: "Bundles refused (download, signature, parse, compile or smoke failure); the last good kept serving."},
			func() float64 { return float64(c.BundleStatus().Refusals) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcp_authz_bundle_last_activation_timestamp_seconds",
			Help: "Unix time the active bundle revision was activated."}, func() float64 {
			if at := c.BundleStatus().ActivatedAt; !at.IsZero() {
				return float64(at.UnixNano()) / 1e9
			}
			return 0
		}),
	}
}

// loadBundle reads the configured bundle: the embedded default, a
// directory, or a (signed) bundle file.
func loadBundle(bc config.Bundle) (*bundle.Bundle, error) {
	if bc.Path == "" {
		return bundles.Default()
	}
	fi, err := os.Stat(bc.Path)
	switch {
	case err != nil:
		return nil, err
	case fi.IsDir() && bc.Verifies():
		return nil, fmt.Errorf("%s is a directory: a signed bundle (verification_key_file or keys) must be a bundle file", bc.Path)
	case fi.IsDir():
		return policy.LoadBundleDir(bc.Path)
	case !bc.Verifies():
		return policy.LoadBundleFile(bc.Path)
	}
	return policy.LoadBundleFile(bc.Path, policy.WithVerification(*verification(bc)))
}

// verification is the bundle signature check bc asks for, nil for none.
func verification(bc config.Bundle) *policy.VerificationConfig {
	if !bc.Verifies() {
		return nil
	}
	v := &policy.VerificationConfig{PublicKeyFile: bc.VerificationKeyFile, Algorithm: bc.VerificationAlgorithm,
		KeyID: bc.KeyID, Scope: bc.Scope}
	if len(bc.Keys) > 0 {
		v.Keys = make(map[string]policy.VerificationKey, len(bc.Keys))
		for id, k := range bc.Keys {
			v.Keys[id] = policy.VerificationKey{KeyFile: k.KeyFile, Algorithm: k.Algorithm}
		}
	}
	return v
}
