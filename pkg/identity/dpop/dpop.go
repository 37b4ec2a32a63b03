package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
)

// Defaults and bounds of Options.
const (
	// DefaultIATWindow is how far iat may be from now, either way.
	DefaultIATWindow = 60 * time.Second
	// MaxIATWindow bounds IATWindow: a longer window makes a stolen proof
	// useful for longer and the replay cache larger.
	MaxIATWindow = 10 * time.Minute
	// DefaultReplayCacheSize is the default number of live jti entries.
	DefaultReplayCacheSize = 100_000
	// MaxReplayCacheSize bounds ReplayCacheSize (about 100 bytes an entry).
	MaxReplayCacheSize = 10_000_000
	// MaxProofBytes bounds the DPoP header value.
	MaxProofBytes = 8 << 10
	// MaxJTIBytes bounds the jti claim (RFC 9449 §11.1 asks servers to
	// reject unnecessarily large jti values).
	MaxJTIBytes = 256
)

// defaultAlgorithms is the allowlist used when Options.Algorithms is empty.
var defaultAlgorithms = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// supportedAlgorithms are the asymmetric JWS algorithms a Checker can be
// configured with. none and HS* are never accepted.
var supportedAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// Options configures a Checker. The zero value is usable: every field has a
// default.
type Options struct {
	// Algorithms are the allowed asymmetric JWS algorithms; default RS256,
	// PS256, ES256, ES384, EdDSA. none and HS* are refused by New.
	Algorithms []string
	// IATWindow is how far iat may be from Clock(), in either direction;
	// it is also how long a jti is remembered. Default 60s, at most
	// MaxIATWindow.
	IATWindow time.Duration
	// ReplayCacheSize is the maximum number of live jti entries; default
	// 100000, at most MaxReplayCacheSize.
	ReplayCacheSize int
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Nonces, when set, requires every proof to carry a valid, unexpired
	// server nonce it issued (RFC 9449 §8); nil means nonces are off.
	Nonces *NonceSource
	// Replay records proofs until they expire; nil means an in-process
	// cache of ReplayCacheSize entries. A store shared by every replica
	// (Redis) refuses a proof replayed to another replica.
	Replay ReplayStore
}

// ReplayStore remembers each proof (key: SHA-256 of the key thumbprint
// and jti) until exp. Add refuses a key seen before with an
// invalid_dpop_proof denial, and any key it cannot record with a 503
// denial (never an allow).
type ReplayStore interface {
	Add(key [sha256.Size]byte, exp, now time.Time) error
}

// ReplayDenial is the denial a ReplayStore returns for a replayed proof.
func ReplayDenial() error {
	return invalid(detailReplay, errors.New("dpop: jti already seen for this key"))
}

// Params is one request to check.
type Params struct {
	// Proof is the single DPoP header value.
	Proof string
	// Method is the HTTP method of the request, compared with htm.
	Method string
	// URL is the expected htu, as returned by HTU.
	URL string
	// AccessToken is the access token presented with the proof (ath).
	AccessToken string
	// JKT is the access token's cnf.jkt, which must equal the RFC 7638
	// SHA-256 thumbprint of the proof's key.
	JKT string
}

// Checker verifies DPoP proofs. It is safe for concurrent use.
type Checker struct {
	algs   map[string]bool
	window time.Duration
	clock  func() time.Time
	replay ReplayStore
	nonces *NonceSource
}

// New returns a Checker for o, or an error naming every invalid option.
func New(o Options) (*Checker, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	o = o.withDefaults()
	algs := make(map[string]bool, len(o.Algorithms))
	for _, a := range o.Algorithms {
		algs[a] = true
	}
	return &Checker{
		algs:   algs,
		window: o.IATWindow,
		clock:  o.Clock,
		replay: o.Replay,
		nonces: o.Nonces,
	}, nil
}

// validate returns every problem with o, joined.
func (o Options) validate() error {
	var errs []error
	for _, a := range o.Algorithms {
		if !supportedAlgorithms[a] {
			errs = append(errs, fmt.Errorf("Algorithms: %q is not an allowed asymmetric JWS algorithm", a))
		}
	}
	if o.IATWindow < 0 || o.IATWindow > MaxIATWindow {
		errs = append(errs, fmt.Errorf("IATWindow: %v is outside [0, %v]", o.IATWindow, MaxIATWindow))
	}
	if o.ReplayCacheSize < 0 || o.ReplayCacheSize > MaxReplayCacheSize {
		errs = append(errs, fmt.Errorf("ReplayCacheSize: %d is outside [0, %d]", o.ReplayCacheSize, MaxReplayCacheSize))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	o.Algorithms = Algorithms(o)
	if o.IATWindow == 0 {
		o.IATWindow = DefaultIATWindow
	}
	if o.ReplayCacheSize == 0 {
		o.ReplayCacheSize = DefaultReplayCacheSize
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Replay == nil {
		o.Replay = newReplayCache(o.ReplayCacheSize)
	}
	return o
}

// Algorithms returns the algorithms a Checker built from o accepts, in
// configured order without duplicates, for WWW-Authenticate: DPoP algs="...".
func Algorithms(o Options) []string {
	if len(o.Algorithms) == 0 {
		return slices.Clone(defaultAlgorithms)
	}
	out := make([]string, 0, len(o.Algorithms))
	for _, a := range o.Algorithms {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Close releases the Checker. It holds no goroutine (expired replay entries
// are purged lazily), so Close only exists to give owners one shutdown path;
// it is safe to call more than once.
func (c *Checker) Close() {}

// Check verifies p.Proof against the request described by p. It returns nil
// or a *denial.Error: denial.InvalidDPoPProof with a client-safe Detail,
// denial.UseDPoPNonce when nonces are on and an otherwise valid proof lacks
// a valid, unexpired nonce, or denial.ReplayCacheFull when the replay cache
// is full of live entries.
//
// A proof is recorded in the replay cache only once every other check has
// passed, so invalid proofs cannot fill it. ath is always required: Check
// is for resource requests, which always carry an access token.
func (c *Checker) Check(p Params) error {
	now := c.clock()
	pf, err := c.verify(p.Proof)
	if err != nil {
		return err
	}
	if err := c.checkClaims(pf.claims, p, now); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(pf.jkt), []byte(p.JKT)) != 1 {
		return invalid(detailJKT, errors.New("dpop: proof key thumbprint differs from cnf.jkt"))
	}
	if c.nonces != nil {
		if err := c.nonces.Check(pf.claims.nonce); err != nil {
			return err
		}
	}
	return c.replay.Add(replayKey(pf.thumbprint, pf.claims.jti), pf.claims.iat.Add(c.window), now)
}

// checkClaims checks the verified claims against the request, the token and
// the clock.
func (c *Checker) checkClaims(cl claims, p Params, now time.Time) error {
	if cl.jti == "" || len(cl.jti) > MaxJTIBytes {
		return invalid(detailJTI, fmt.Errorf("dpop: jti of %d bytes", len(cl.jti)))
	}
	if cl.htm != p.Method {
		return invalid(detailHTM, fmt.Errorf("dpop: htm %q, request method %q", cl.htm, p.Method))
	}
	htu, err := normalizeURL(cl.htu)
	if err != nil {
		return invalid(detailHTU, fmt.Errorf("dpop: proof htu: %w", err))
	}
	if htu != p.URL {
		return invalid(detailHTU, fmt.Errorf("dpop: htu %q does not match %q", htu, p.URL))
	}
	if d := now.Sub(cl.iat); d > c.window || d < -c.window {
		return invalid(detailIAT, fmt.Errorf("dpop: iat %v is %v from now", cl.iat, d))
	}
	if p.AccessToken == "" || subtle.ConstantTimeCompare([]byte(cl.ath), []byte(ath(p.AccessToken))) != 1 {
		return invalid(detailATH, errors.New("dpop: ath does not hash the access token"))
	}
	return nil
}

// ath returns base64url(SHA-256(token)) without padding (RFC 9449 §4.2).
func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Client-safe details of InvalidDPoPProof; they never contain input.
const (
	detailMalformed = "DPoP proof is not a compact JWS"
	detailTyp       = "DPoP proof typ must be dpop+jwt"
	detailAlg       = "DPoP proof alg is not allowed"
	detailHeader    = "DPoP proof header has unsupported parameters"
	detailKey       = "DPoP proof jwk must be a supported public key"
	detailSignature = "DPoP proof signature is invalid"
	detailClaims    = "DPoP proof claims are malformed"
	detailJTI       = "DPoP proof jti is missing or too long"
	detailHTM       = "DPoP proof htm does not match the request method"
	detailHTU       = "DPoP proof htu does not match the request URI"
	detailIAT       = "DPoP proof iat is outside the accepted window"
	detailATH       = "DPoP proof ath does not match the access token"
	detailJKT       = "DPoP proof key does not match the access token binding"
	detailReplay    = "DPoP proof has already been used"
	detailFull      = "DPoP replay cache is full; retry later"
)

// invalid returns an InvalidDPoPProof denial with detail and cause.
func invalid(detail string, cause error) *denial.Error {
	return denial.WithDetail(denial.InvalidDPoPProof, detail, cause)
}
