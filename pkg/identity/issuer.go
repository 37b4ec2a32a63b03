package identity

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// issuer is one trusted authorization server and its keys.
type issuer struct {
	cfg      IssuerConfig
	typ      string // normalised RequireTyp, "" for any
	algs     map[string]bool
	src      keySource
	maxStale time.Duration
	refresh  time.Duration
	// handedOver is set when src is owned by another Verifier (taken over
	// by a successor, or borrowed by a successor that failed to build):
	// this Verifier's Close leaves it running.
	handedOver atomic.Bool
	// inherited marks a src taken over from Config.Inherit.
	inherited bool
}

// newIssuer builds the key source of ic (reading a JWKS file now).
func newIssuer(ic IssuerConfig, cfg Config) (*issuer, error) {
	is := issuerOf(ic, cfg)
	if prev := cfg.Inherit.sameSource(ic, cfg); prev != nil {
		is.src, is.inherited = prev.src, true
		return is, nil
	}
	var err error
	if ic.JWKSFile != "" {
		is.src, err = newFileSource(ic.JWKSFile, cfg.MaxJWKSBytes, cfg.Clock(), cfg.Logger.With("issuer", ic.Issuer))
	} else {
		is.src, err = newRemoteSource(ic, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: issuer %q: %w", ic.Issuer, err)
	}
	return is, nil
}

// issuerOf is ic's issuer without its key source.
func issuerOf(ic IssuerConfig, cfg Config) *issuer {
	is := &issuer{
		cfg:      ic,
		typ:      normaliseTyp(ic.RequireTyp),
		algs:     map[string]bool{},
		maxStale: cfg.MaxStaleness,
		refresh:  cfg.JWKSRefresh,
	}
	for _, a := range ic.Algorithms {
		is.algs[a] = true
	}
	return is
}

// sameSource returns v's issuer whose remote key source ic and cfg would
// build identically (nil for none, for a nil v, and for a jwks_file, which
// a reload reads anew).
func (v *Verifier) sameSource(ic IssuerConfig, cfg Config) *issuer {
	if v == nil || ic.JWKSFile != "" {
		return nil
	}
	prev := v.issuers[ic.Issuer]
	if prev == nil || prev.handedOver.Load() {
		return nil
	}
	p, c := prev.cfg, v.cfg
	same := p.JWKSFile == "" && p.JWKSURL == ic.JWKSURL && p.DiscoveryURL == ic.DiscoveryURL &&
		p.CAFile == ic.CAFile && p.InsecureHTTP == ic.InsecureHTTP &&
		c.FetchTimeout == cfg.FetchTimeout && c.MaxJWKSBytes == cfg.MaxJWKSBytes &&
		c.MinRefetchInterval == cfg.MinRefetchInterval && c.JWKSRefresh == cfg.JWKSRefresh
	if !same {
		return nil
	}
	return prev
}

// usable reports whether ks may verify tokens at now: present and, for a
// remote source, fetched at most MaxStaleness ago.
func (is *issuer) usable(ks *keySet, now time.Time) bool {
	return ks != nil && (!is.src.expires() || now.Sub(ks.fetchedAt) <= is.maxStale)
}

// keys returns the current usable key set, refreshing (bounded by ctx) when
// there is none or it is stale, and starting a background refresh when it
// is older than JWKSRefresh.
func (is *issuer) keys(ctx context.Context, now time.Time) (*keySet, error) {
	ks := is.src.current()
	if is.usable(ks, now) {
		if is.src.expires() && now.Sub(ks.fetchedAt) >= is.refresh {
			is.src.kick()
		}
		return ks, nil
	}
	fresh, err := is.src.refresh(ctx)
	if is.usable(fresh, now) {
		return fresh, nil
	}
	detail := detailKeysStale
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		detail = detailKeysFetchTimeout
	case fresh == nil:
		detail = detailKeysUnavailable
	}
	if err == nil {
		err = errors.New("no usable key set")
	}
	return nil, denial.WithDetail(denial.IssuerUnavailable, detail, fmt.Errorf("issuer %q: %w", is.cfg.Issuer, err))
}

// keysFor returns the issuer's keys that may verify a token with kid and
// alg. An unknown kid triggers one rate-limited refetch (key rotation).
func (is *issuer) keysFor(ctx context.Context, now time.Time, kid, alg string) ([]verifyKey, error) {
	ks, err := is.keys(ctx, now)
	if err != nil {
		return nil, err
	}
	if c := ks.candidates(kid, alg); len(c) > 0 {
		return c, nil
	}
	fresh, err := is.src.refresh(ctx)
	if is.usable(fresh, now) {
		if c := fresh.candidates(kid, alg); len(c) > 0 {
			return c, nil
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil, denial.WithDetail(denial.IssuerUnavailable, detailKeysFetchTimeout,
			fmt.Errorf("issuer %q: refetch for kid %.64q: %w", is.cfg.Issuer, kid, err))
	}
	return nil, invalid(detailUnknownKey, fmt.Errorf("issuer %q has no %s key with kid %.64q (refetch: %v)", is.cfg.Issuer, alg, kid, err))
}

// status describes the issuer at now.
func (is *issuer) status(now time.Time) IssuerStatus {
	ks := is.src.current()
	st := is.src.status()
	out := IssuerStatus{
		Issuer:      is.cfg.Issuer,
		Source:      st.kind,
		Keys:        keysOf(ks),
		HasKeys:     is.usable(ks, now),
		LastError:   st.lastError,
		SkippedKeys: st.skippedKeys,
		RefusedSets: st.refused,
	}
	if ks != nil {
		out.LastRefresh = ks.fetchedAt
		out.Stale = !out.HasKeys
	}
	return out
}

// IssuerStatus describes one issuer's key set, for /readyz and metrics.
type IssuerStatus struct {
	// Issuer is the configured iss.
	Issuer string `json:"issuer"`
	// Source is "file", "jwks_url" or "discovery".
	Source string `json:"source"`
	// HasKeys is true when the issuer has a usable (not stale) key set.
	HasKeys bool `json:"has_keys"`
	// Stale is true when a key set was loaded but is older than
	// MaxStaleness: the issuer's tokens are refused.
	Stale bool `json:"stale"`
	// Keys is the number of usable keys in the last good set.
	Keys int `json:"keys"`
	// LastRefresh is when the last good set was fetched (injected clock);
	// zero if never.
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	// LastError is the last fetch failure, "" when the latest fetch
	// succeeded (redacted: no query string, no library quotes).
	LastError string `json:"last_error,omitempty"`
	// SkippedKeys counts the distinct keys the issuer published that
	// cannot verify tokens (weak, use enc, no verify op, unknown kty,
	// duplicate kid); each was logged once.
	SkippedKeys uint64 `json:"skipped_keys,omitempty"`
	// RefusedSets counts fetched key sets refused as a whole, by reason
	// (private_material, no_usable_key, malformed).
	RefusedSets map[string]uint64 `json:"refused_sets,omitempty"`
}
