package upstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/identity"
)

const (
	hopMint = "https://mint.example.test/mcp"
	hopNone = "https://none.example.test/mcp"
	hopExch = "https://exchange.example.test/mcp"
)

// stubExchanger records the exchange it was asked for.
type stubExchanger struct {
	got ExchangeRequest
	err error
}

func (s *stubExchanger) Exchange(_ context.Context, r ExchangeRequest) (string, error) {
	s.got = r
	return "exchanged", s.err
}

func TestSourceToken(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	m := newTestMinter(t, clock)
	p := &identity.Principal{Subject: "alice", Issuer: "https://auth.example.test", ClientID: "c1"}
	hops := map[string]HopConfig{
		hopMint: {Mode: ModeMint, Audience: "https://up.internal/mcp"},
		hopNone: {Mode: ModeNone, Audience: hopNone},
		hopExch: {Mode: ModeExchange, Audience: hopExch, Scope: "issues"},
	}
	ex := &stubExchanger{}
	withMinter := NewSource(SourceConfig{Hops: hops, Minter: m, IssuerExchangers: map[string]Exchanger{p.Issuer: ex}})
	noMinter := NewSource(SourceConfig{Hops: hops})
	tests := []struct {
		name       string
		src        *Source
		r          Request
		wantAud    string // "" with wantToken "": passthrough
		wantToken  string
		wantReason denial.Reason
	}{
		{name: "mint hop", src: withMinter, r: Request{Resource: hopMint, Principal: p, CallScope: "mcp:tools/list"}, wantAud: "https://up.internal/mcp"},
		{name: "none hop passes through", src: withMinter, r: Request{Resource: hopNone, Principal: p, CallScope: "mcp:tools/list"}},
		{name: "none hop, the policy asks", src: withMinter, r: Request{Resource: hopNone, Principal: p, CallScope: "s", Override: &Override{}}, wantAud: hopNone},
		{name: "policy audience", src: withMinter, r: Request{Resource: hopMint, Principal: p, CallScope: "s", Override: &Override{Audience: "https://other/mcp"}}, wantAud: "https://other/mcp"},
		{name: "policy asks, no minter", src: noMinter, r: Request{Resource: hopNone, Principal: p, CallScope: "s", Override: &Override{}}, wantReason: denial.TokenMintFailed},
		{name: "mint hop, no minter", src: noMinter, r: Request{Resource: hopMint, Principal: p, CallScope: "s"}, wantReason: denial.TokenMintFailed},
		{name: "exchange hop", src: withMinter, r: Request{Resource: hopExch, Principal: p, CallScope: "s", SubjectToken: "in"}, wantToken: "exchanged"},
		{name: "exchange hop without a token service", src: noMinter, r: Request{Resource: hopExch, Principal: p, CallScope: "s"}, wantReason: denial.TokenExchangeFailed},
		{name: "unknown hop passes through", src: withMinter, r: Request{Resource: "https://x/mcp", Principal: p, CallScope: "s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.src.Token(context.Background(), tc.r)
			if tc.wantReason != "" {
				if denial.ReasonOf(err) != tc.wantReason || tok != "" {
					t.Fatalf("Token() = %q, %v; want reason %s", tok, err, tc.wantReason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantToken != "":
				if tok != tc.wantToken {
					t.Errorf("Token() = %q; want %q", tok, tc.wantToken)
				}
			case tc.wantAud == "":
				if tok != "" {
					t.Errorf("Token() = %.20q…; want passthrough", tok)
				}
			default:
				if c := parseMinted(t, m, tok, clock.now); c["aud"] != tc.wantAud && !audContains(c["aud"], tc.wantAud) {
					t.Errorf("aud = %v; want %s", c["aud"], tc.wantAud)
				}
			}
		})
	}
	if ex.got.Scope != "issues" || ex.got.Audience != hopExch || ex.got.SubjectToken != "in" || ex.got.Subject != "alice" {
		t.Errorf("exchange request = %+v; want the hop's scope and audience, the caller's token and subject", ex.got)
	}
	ex.err = errors.New("sts down")
	if _, err := withMinter.Token(context.Background(), Request{Resource: hopExch, Principal: p}); denial.ReasonOf(err) != denial.TokenExchangeFailed {
		t.Errorf("Token() with the STS down = %v; want token_exchange_failed", err)
	}
}

func audContains(aud any, want string) bool {
	list, _ := aud.([]string)
	for _, a := range list {
		if a == want {
			return true
		}
	}
	return false
}
