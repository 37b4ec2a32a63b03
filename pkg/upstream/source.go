package upstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
)

// Mode says what a hop's upstream receives.
type Mode string

// Modes of a hop.
const (
	// ModeNone passes the caller's token through (forbidden by the MCP
	// authorization spec; the default until minting is configured).
	ModeNone Mode = "none"
	// ModeMint sends a token minted by this service.
	ModeMint Mode = "mint"
	// ModeExchange sends a token from an RFC 8693 security token service.
	ModeExchange Mode = "exchange"
)

// HopConfig is one hop's upstream token configuration.
type HopConfig struct {
	// Mode is mint, exchange or none.
	Mode Mode
	// Audience is the upstream's resource identifier (aud).
	Audience string
	// Scope, when set, replaces the per-call scope.
	Scope string
	// Exchanger is the hop's own STS (nil: the issuer's, else the default).
	Exchanger Exchanger
}

// Exchanger obtains a token for the upstream from a security token service.
type Exchanger interface {
	Exchange(ctx context.Context, r ExchangeRequest) (string, error)
}

// Override is the policy decision's upstream_token: it shapes the token of
// this one request.
type Override struct {
	// Audience replaces the hop's audience ("" keeps it).
	Audience string
	// Scope replaces the scope ("" keeps it).
	Scope string
	// TTL replaces the lifetime of a minted token (0 keeps it).
	TTL time.Duration
	// Claims are extra claims of a minted token.
	Claims map[string]any
}

// Request is what Token needs to know about one allowed request.
type Request struct {
	// Resource is the hop's resource identifier (it selects the HopConfig).
	Resource string
	// Principal is the verified caller.
	Principal *identity.Principal
	// Actor is the current actor: the calling workload's SPIFFE ID, else the client id.
	Actor string
	// SubjectToken is the caller's verified token (exchange mode only).
	SubjectToken string
	// CallScope is the default scope of this call, e.g. mcp:tools/call:issues/search_issues.
	CallScope string
	// Override is the policy's upstream_token (nil: none).
	Override *Override
}

// SourceConfig configures a Source.
type SourceConfig struct {
	// Hops maps a hop's resource identifier to its configuration.
	Hops map[string]HopConfig
	// Minter signs tokens (nil: minting is not configured).
	Minter *Minter
	// IssuerExchangers are the STS per token issuer.
	IssuerExchangers map[string]Exchanger
	// DefaultExchanger is the top-level STS (nil: none).
	DefaultExchanger Exchanger
}

// Source decides, per hop, what an allowed request carries upstream.
type Source struct {
	cfg SourceConfig
}

// NewSource returns a Source over cfg.
func NewSource(cfg SourceConfig) *Source { return &Source{cfg: cfg} }

// Token returns the token the upstream receives for r; "" means the
// caller's token passes through (mode none, and the policy asked for no
// token). Every failure is a denial: minting (token_mint_failed) or
// exchange (token_exchange_failed). It never falls back to passthrough.
func (s *Source) Token(ctx context.Context, r Request) (string, error) {
	h, ok := s.cfg.Hops[r.Resource]
	if !ok {
		h = HopConfig{Mode: ModeNone, Audience: r.Resource}
	}
	mode := h.Mode
	if mode == ModeNone && r.Override != nil {
		mode = ModeMint // the policy asked for a token on this request
	}
	aud, scope, ttl, claims := h.Audience, r.CallScope, time.Duration(0), map[string]any(nil)
	if h.Scope != "" {
		scope = h.Scope
	}
	if o := r.Override; o != nil {
		aud, scope, ttl, claims = pick(o.Audience, aud), pick(o.Scope, scope), o.TTL, o.Claims
	}
	switch mode {
	case ModeNone:
		return "", nil
	case ModeMint:
		return s.mint(r, aud, scope, ttl, claims)
	case ModeExchange:
		return s.exchange(ctx, h, r, aud, scope)
	}
	return "", denial.New(denial.TokenMintFailed, fmt.Errorf("unknown upstream token mode %q", mode))
}

func (s *Source) mint(r Request, aud, scope string, ttl time.Duration, claims map[string]any) (string, error) {
	if s.cfg.Minter == nil {
		return "", denial.New(denial.TokenMintFailed, errors.New("a token is required but token_minting is not configured"))
	}
	p := r.Principal
	tok, err := s.cfg.Minter.Mint(MintRequest{Subject: p.Subject, ClientID: p.ClientID, Actor: r.Actor, Chain: p.Act,
		Audience: aud, Scope: scope, TTL: ttl, Claims: claims})
	if err != nil {
		return "", denial.New(denial.TokenMintFailed, err)
	}
	return tok, nil
}

func (s *Source) exchange(ctx context.Context, h HopConfig, r Request, aud, scope string) (string, error) {
	ex := h.Exchanger
	if ex == nil {
		ex = s.cfg.IssuerExchangers[r.Principal.Issuer]
	}
	if ex == nil {
		ex = s.cfg.DefaultExchanger
	}
	if ex == nil {
		return "", denial.New(denial.TokenExchangeFailed, fmt.Errorf("no token_exchange for issuer %q", r.Principal.Issuer))
	}
	tok, err := ex.Exchange(ctx, ExchangeRequest{
		SubjectToken: r.SubjectToken, Issuer: r.Principal.Issuer, Subject: r.Principal.Subject,
		ClientID: r.Principal.ClientID, SubjectExpiry: r.Principal.ExpiresAt, Audience: aud, Scope: scope,
	})
	if err != nil {
		return "", denial.New(denial.TokenExchangeFailed, err)
	}
	return tok, nil
}

func pick(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
