package identity

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/identity/dpop"
)

// Request is what Verify needs from an HTTP request.
type Request struct {
	// Authorization is every Authorization header value as received.
	Authorization []string
	// DPoP is every DPoP header value as received.
	DPoP []string
	// Method is the HTTP method (DPoP htm).
	Method string
	// Path is the :path as received; the DPoP htu is PublicOrigin + Path
	// without query and fragment, RFC 3986-normalised.
	Path string
	// Resource is this hop's resource identifier (RFC 8707); aud must
	// contain it.
	Resource string
	// PublicOrigin is this hop's public origin, e.g.
	// "https://mcp.example.test".
	PublicOrigin string
}

// Verifier verifies access tokens. It is safe for concurrent use; Close
// stops its goroutines.
type Verifier struct {
	cfg       Config
	issuers   map[string]*issuer
	order     []*issuer
	cache     *lru.Cache[[sha256.Size]byte, *cacheEntry]
	dpop      *dpop.Checker
	closeOnce sync.Once
}

// cacheEntry is a verified token for one resource, with its Principal as
// returned for each scheme (so a cache hit allocates nothing); or, when
// rejected is set, a token whose signature verified against iss's keys but
// whose claims failed for that resource (rejected holds those claims, to
// be checked again at each hit: time moves, and the key that verified it).
type cacheEntry struct {
	bearer, dpop *Principal
	rejected     *sigChecked
	iss          *issuer
	from, expiry time.Time // a verified entry serves from <= now < expiry
}

// newCacheEntry builds the entry of a verified principal p.
func newCacheEntry(p *Principal, is *issuer, expiry time.Time) *cacheEntry {
	b, d := *p, *p
	b.TokenType, d.TokenType = schemeBearer, schemeDPoP
	return &cacheEntry{bearer: &b, dpop: &d, iss: is, expiry: expiry}
}

// principal returns the entry's Principal for scheme.
func (e *cacheEntry) principal(scheme string) *Principal {
	if scheme == schemeDPoP {
		return e.dpop
	}
	return e.bearer
}

// New validates cfg (all problems at once, each naming its field), reads
// JWKS files, builds one key source per remote issuer and makes a first
// fetch of each, waiting at most until ctx is done. A failed first fetch
// is not an error: the issuer is unavailable until a fetch succeeds (see
// Status and Ready).
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cache, err := lru.New[[sha256.Size]byte, *cacheEntry](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("identity: CacheSize: %w", err)
	}
	checker, err := dpop.New(cfg.DPoP)
	if err != nil {
		return nil, fmt.Errorf("identity: DPoP: %w", err)
	}
	v := &Verifier{cfg: cfg, issuers: map[string]*issuer{}, cache: cache, dpop: checker}
	var errs []error
	for _, ic := range cfg.Issuers {
		is, err := newIssuer(ic, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v.issuers[ic.Issuer] = is
		v.order = append(v.order, is)
		if ic.InsecureHTTP {
			cfg.Logger.Warn("[INSECURE CONFIG] plain HTTP allowed for the key set of an issuer; tokens can be forged by anyone on the network path",
				"issuer", ic.Issuer)
		}
		if r := ic.relaxed(); len(r) > 0 {
			cfg.Logger.Warn("token profile relaxed for an issuer", "issuer", ic.Issuer, "relaxed", r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		v.release(false)
		v.Close()
		return nil, err
	}
	v.release(true)
	v.firstFetch(ctx)
	return v, nil
}

// release settles who owns the key sources taken over from cfg.Inherit:
// on success the successor (v) does and Inherit's Close leaves them
// running; on failure Inherit keeps them and v's Close leaves them alone.
func (v *Verifier) release(built bool) {
	for _, is := range v.order {
		if !is.inherited {
			continue
		}
		if built {
			v.cfg.Inherit.issuers[is.cfg.Issuer].handedOver.Store(true)
		} else {
			is.handedOver.Store(true)
		}
	}
	v.cfg.Inherit = nil // keep no chain of replaced verifiers alive
}

// firstFetch fetches every remote key set concurrently, waiting at most
// until ctx is done (each fetch is also bounded by FetchTimeout).
func (v *Verifier) firstFetch(ctx context.Context) {
	var wg sync.WaitGroup
	for _, is := range v.order {
		switch {
		case is.inherited:
			is.src.kick() // it has keys already: refresh behind them
		case is.src.expires():
			wg.Go(func() { _, _ = is.src.refresh(ctx) })
		}
	}
	wg.Wait()
}

// Verify authenticates r: it returns the Principal of a valid token
// presented the way its binding requires (shared with the verified-token
// cache: read-only), or a *denial.Error whose reason is TokenMissing,
// TokenInvalid, InvalidDPoPProof, ReplayCacheFull or IssuerUnavailable
// (Internal when r.Resource is empty). It waits for a key-set fetch at
// most until ctx is done.
func (v *Verifier) Verify(ctx context.Context, r Request) (*Principal, error) {
	if r.Resource == "" {
		return nil, denial.New(denial.Internal, errors.New("identity: Request.Resource is empty"))
	}
	cred, err := parseAuthorization(r.Authorization, v.cfg.MaxTokenBytes)
	if err != nil {
		return nil, err
	}
	e, err := v.verified(ctx, cred.token, r.Resource)
	if err != nil {
		return nil, err
	}
	p := e.principal(cred.scheme)
	if err := v.checkBinding(cred, p, e.iss, r); err != nil {
		return nil, err
	}
	return p, nil
}

// verified returns the verified token for resource, from the cache when
// an unexpired entry exists and its issuer's keys are still usable. An
// entry lives until min(exp + Skew, cached-at + JWKSRefresh), and serves
// only from max(nbf, iat) - Skew on (a clock that steps back). A token whose
// signature verified but whose claims failed is kept as well, until
// cached-at + JWKSRefresh: a hit re-checks its claims at now and returns
// their error, exactly what verifying again would; once they pass (nbf
// reached) the token is verified in full again.
func (v *Verifier) verified(ctx context.Context, token, resource string) (*cacheEntry, error) {
	key := cacheKey(token, resource)
	now := v.cfg.Clock()
	if e, ok := v.cache.Get(key); ok {
		if ks := e.iss.src.current(); now.Before(e.expiry) && !now.Before(e.from) && e.iss.usable(ks, now) {
			if e.rejected == nil {
				return e, nil
			}
			if err := v.recheck(e.rejected, ks, now, resource); err != nil {
				return nil, err
			}
		}
		v.cache.Remove(key)
	}
	st, err := v.verifySigned(ctx, token, now)
	if err != nil {
		return nil, err
	}
	p, err := v.buildPrincipal(st.claims, st.is, now, resource)
	if err != nil {
		v.cache.Add(key, &cacheEntry{rejected: st, iss: st.is, expiry: now.Add(v.cfg.JWKSRefresh)})
		return nil, err
	}
	p.Issuer, p.KeyID = st.is.cfg.Issuer, st.hdr.kid
	expiry := p.ExpiresAt.Add(v.cfg.Skew)
	if limit := now.Add(v.cfg.JWKSRefresh); limit.Before(expiry) {
		expiry = limit
	}
	e := newCacheEntry(p, st.is, expiry)
	e.from = validFrom(st.claims, v.cfg.Skew)
	v.cache.Add(key, e)
	return e, nil
}

// validFrom is the earliest time the nbf and iat checks of claims pass
// (max(nbf, iat) - skew; zero without either): an injected clock may step
// back, and a kept token must not serve before it would verify.
func validFrom(claims map[string]any, skew time.Duration) time.Time {
	var from time.Time
	for _, name := range []string{"nbf", "iat"} {
		if t, ok, err := numericDate(claims, name); ok && err == nil && t.Add(-skew).After(from) {
			from = t.Add(-skew)
		}
	}
	return from
}

// recheck answers for a rejected token from the cache: when ks would
// still verify its signature, the claims checks at now, with their error
// (logged as buildPrincipal would); nil when the key set changed or the
// claims pass now, so the caller verifies the token in full.
func (v *Verifier) recheck(st *sigChecked, ks *keySet, now time.Time, resource string) error {
	if !st.verifiableBy(ks) {
		return nil
	}
	_, rolesErr, err := v.checkClaims(st.claims, st.is, now, resource)
	if err != nil {
		v.logRoles(st.is, rolesErr)
	}
	return err
}

// keyBufs recycles the buffers cacheKey hashes (bounded by MaxTokenBytes
// plus the resource).
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// cacheKey is SHA-256(token NUL resource); a token cached for one hop is
// never found for another.
func cacheKey(token, resource string) [sha256.Size]byte {
	bp := keyBufs.Get().(*[]byte)
	b := append((*bp)[:0], token...)
	b = append(b, 0)
	b = append(b, resource...)
	k := sha256.Sum256(b)
	*bp = b[:0]
	keyBufs.Put(bp)
	return k
}

// sigChecked is a token whose signature verified, its claims not yet checked.
type sigChecked struct {
	claims map[string]any
	is     *issuer
	hdr    header
	key    any // the public key that verified the signature
}

// verifySigned checks a compact token up to its claims: issuer chosen by
// the unverified iss, header rules, signature with that issuer's keys only.
func (v *Verifier) verifySigned(ctx context.Context, token string, now time.Time) (*sigChecked, error) {
	jw, err := parseJWS(token)
	if err != nil {
		return nil, err
	}
	claims, err := decodeClaims(jw.payload)
	if err != nil {
		return nil, err
	}
	iss, err := stringClaim(claims, "iss")
	if err != nil {
		return nil, err
	}
	is, ok := v.issuers[iss]
	if !ok {
		return nil, invalid(detailUnknownIssuer, fmt.Errorf("iss %.128q is not configured", iss))
	}
	if err := is.checkHeader(jw.hdr); err != nil {
		return nil, err
	}
	keys, err := is.tokenKeys(ctx, now, jw.hdr)
	if err != nil {
		return nil, err
	}
	key, err := verifySignature(jw, keys)
	if err != nil {
		return nil, err
	}
	return &sigChecked{claims: claims, is: is, hdr: jw.hdr, key: key}, nil
}

// verifiableBy reports whether key set ks, without a fetch, offers the key
// that verified st among the keys tokenKeys picks for st's header (by kid,
// or the single key fitting alg when there is none): then verifying st
// again would succeed exactly as it did.
func (st *sigChecked) verifiableBy(ks *keySet) bool {
	var pool []verifyKey
	if st.hdr.kid != "" {
		pool = ks.candidates(st.hdr.kid, st.hdr.alg)
	} else {
		for _, k := range ks.all {
			if keyFits(k, st.hdr.alg) {
				pool = append(pool, k)
			}
		}
		if len(pool) != 1 {
			return false
		}
	}
	for _, k := range pool {
		if eq, ok := k.raw.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(st.key) {
			return true
		}
	}
	return false
}

// buildPrincipal checks the claims of a signature-verified token against
// the profile of its issuer and maps them to a Principal.
func (v *Verifier) buildPrincipal(claims map[string]any, is *issuer, now time.Time, resource string) (*Principal, error) {
	p, rolesErr, err := v.checkClaims(claims, is, now, resource)
	v.logRoles(is, rolesErr)
	return p, err
}

// logRoles logs, at debug, why a roles claim was ignored (nil: nothing).
func (v *Verifier) logRoles(is *issuer, rolesErr error) {
	if rolesErr != nil {
		v.cfg.Logger.Debug("roles claim ignored", "issuer", is.cfg.Issuer, "cause", rolesErr.Error())
	}
}

// checkClaims is buildPrincipal without its log line: the Principal, why
// the roles claim was ignored (when it was reached and had another shape),
// and the first failing check. It is a function of its arguments and the
// Verifier's configuration only, so the cache may run it again for a
// rejected token.
func (v *Verifier) checkClaims(claims map[string]any, is *issuer, now time.Time, resource string) (*Principal, error, error) {
	life, err := checkTimes(claims, now, v.cfg.Skew)
	if err != nil {
		return nil, nil, err
	}
	p := &Principal{Claims: claims, ExpiresAt: life.expires}
	if p.Subject, err = subject(claims); err != nil {
		return nil, nil, err
	}
	if err := requireClaims(claims, is.cfg.RequireClaims); err != nil {
		return nil, nil, err
	}
	if p.Audience, err = checkAudience(claims, resource, is.cfg.AllowMultiAudience); err != nil {
		return nil, nil, err
	}
	if p.Scopes, err = scopes(claims); err != nil {
		return nil, nil, err
	}
	if p.CnfJKT, err = confirmation(claims); err != nil {
		return nil, nil, err
	}
	if p.Act, err = actChain(claims); err != nil {
		return nil, nil, err
	}
	if p.MayAct, err = mayAct(claims); err != nil {
		return nil, nil, err
	}
	rolesErr := error(nil)
	if p.Roles, rolesErr = rolesOf(claims, v.cfg.RolesClaim, v.cfg.RolesClaimFormat); rolesErr != nil {
		p.RolesError = RolesInvalid
	}
	if err := clientClaims(claims, p); err != nil {
		return nil, rolesErr, err
	}
	return p, rolesErr, nil
}

// clientClaims sets p's TokenID and ClientID (azp, else client_id); each
// must be a string when present.
func clientClaims(claims map[string]any, p *Principal) error {
	var azp, clientID string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"jti", &p.TokenID}, {"azp", &azp}, {"client_id", &clientID}} {
		var err error
		if *f.dst, err = stringClaim(claims, f.name); err != nil {
			return err
		}
	}
	p.ClientID = azp
	if p.ClientID == "" {
		p.ClientID = clientID
	}
	return nil
}

// Status reports every issuer's key set, in configuration order.
func (v *Verifier) Status() []IssuerStatus {
	now := v.cfg.Clock()
	out := make([]IssuerStatus, 0, len(v.order))
	for _, is := range v.order {
		out = append(out, is.status(now))
	}
	return out
}

// Ready reports whether at least one issuer has a usable key set.
func (v *Verifier) Ready() bool {
	now := v.cfg.Clock()
	for _, is := range v.order {
		if is.usable(is.src.current(), now) {
			return true
		}
	}
	return false
}

// Close stops every goroutine the Verifier started (key-set refreshes,
// background refresh loops, the DPoP checker) and drops idle connections. It is
// idempotent; Verify must not be called after Close.
func (v *Verifier) Close() {
	v.closeOnce.Do(func() {
		for _, is := range v.order {
			if !is.handedOver.Load() {
				is.src.close()
			}
		}
		if v.dpop != nil {
			v.dpop.Close()
		}
	})
}
