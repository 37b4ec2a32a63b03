package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/upstream"
)

// upstreamParts are the process-long token components: the minter, its
// keys and their publisher (token_minting needs a restart). The per-hop
// token source belongs to each configuration generation (newSource).
type upstreamParts struct {
	minter    *upstream.Minter
	publisher *upstream.Publisher
	keys      *upstream.Keys
}

// buildUpstream builds the minter (when token_minting is set) and its JWKS
// publisher.
func buildUpstream(cfg *config.Config) (*upstreamParts, error) {
	u := &upstreamParts{}
	if m := cfg.TokenMinting; m.Enabled() {
		keys, err := upstream.NewKeys(m.SigningKeyFiles, m.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("app: token_minting.signing_key_files: %w", err)
		}
		u.keys = keys
		if u.minter, err = upstream.NewMinter(upstream.MinterConfig{Issuer: m.Issuer, TTL: m.TTL.D(), CacheSize: m.CacheSize}, keys); err != nil {
			return nil, fmt.Errorf("app: token_minting: %w", err)
		}
		if u.publisher, err = upstream.NewPublisher(keys, m.Issuer, m.JWKSURI, m.Algorithm); err != nil {
			return nil, fmt.Errorf("app: token_minting: %w", err)
		}
	}
	return u, nil
}

// newSource builds cfg's per-hop upstream token source over the minter m
// (nil without token_minting), with the closers of its exchange clients
// (idle STS connections), which are returned on error too.
func newSource(cfg *config.Config, m *upstream.Minter) (*upstream.Source, []func(), error) {
	sc, err := sourceConfig(cfg, m)
	var closers []func()
	for _, ex := range exchangersOf(sc) {
		closers = append(closers, ex.Close)
	}
	if err != nil {
		return nil, closers, err
	}
	return upstream.NewSource(sc), closers, nil
}

// sourceConfig builds each hop's upstream token configuration and every
// configured token exchange client (top level, per issuer, per hop).
func sourceConfig(cfg *config.Config, m *upstream.Minter) (upstream.SourceConfig, error) {
	sc := upstream.SourceConfig{Hops: map[string]upstream.HopConfig{}, Minter: m, IssuerExchangers: map[string]upstream.Exchanger{}}
	var err error
	if cfg.TokenExchange != nil {
		if sc.DefaultExchanger, err = exchangeClient("token_exchange", cfg.TokenExchange); err != nil {
			return sc, err
		}
	}
	for i, is := range cfg.Issuers {
		if is.TokenExchange != nil {
			if sc.IssuerExchangers[is.Issuer], err = exchangeClient(fmt.Sprintf("issuers[%d].token_exchange", i), is.TokenExchange); err != nil {
				return sc, err
			}
		}
	}
	for i, r := range cfg.Resources {
		ut := cfg.HopUpstream(i)
		h := upstream.HopConfig{Mode: upstream.Mode(ut.Mode), Audience: ut.Audience, Scope: ut.Scope}
		if r.TokenExchange != nil {
			if h.Exchanger, err = exchangeClient(fmt.Sprintf("resources[%d].token_exchange", i), r.TokenExchange); err != nil {
				return sc, err
			}
		}
		sc.Hops[r.Resource] = h
	}
	return sc, nil
}

// exchangersOf lists every exchange client of sc.
func exchangersOf(sc upstream.SourceConfig) []*upstream.ExchangeClient {
	var out []*upstream.ExchangeClient
	add := func(e upstream.Exchanger) {
		if c, ok := e.(*upstream.ExchangeClient); ok && c != nil {
			out = append(out, c)
		}
	}
	add(sc.DefaultExchanger)
	for _, e := range sc.IssuerExchangers {
		add(e)
	}
	for _, h := range sc.Hops {
		add(h.Exchanger)
	}
	return out
}

// exchangeClient builds one RFC 8693 client with its bounded HTTP client
// and the secrets read from their files.
func exchangeClient(key string, te *config.TokenExchange) (*upstream.ExchangeClient, error) {
	hc, err := upstream.NewExchangeHTTPClient(te.CAFile, te.Timeout.D())
	if err != nil {
		return nil, fmt.Errorf("app: %s: %w", key, err)
	}
	secret, err := readSecret(te.ClientSecretFile)
	if err != nil {
		return nil, fmt.Errorf("app: %s.client_secret_file: %w", key, err)
	}
	actor, err := readSecret(te.ActorTokenFile)
	if err != nil {
		return nil, fmt.Errorf("app: %s.actor_token_file: %w", key, err)
	}
	c, err := upstream.NewExchangeClient(upstream.ExchangeConfig{Endpoint: te.Endpoint, ClientID: te.ClientID,
		ClientSecret: secret, ActorToken: actor, HTTPClient: hc, Timeout: te.Timeout.D(), CacheSize: config.DefaultMintCacheSize})
	if err != nil {
		return nil, fmt.Errorf("app: %s: %w", key, err)
	}
	return c, nil
}

// readSecret reads a small secret file ("" for no file), trimmed.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if len(b) > 64<<10 {
		return "", fmt.Errorf("%s is larger than 64 KiB", path)
	}
	return strings.TrimSpace(string(b)), nil
}

// publicHandler serves the JWKS and authorization server metadata of
// minted tokens beside the RFC 9728 documents.
func publicHandler(meta http.Handler, pub *upstream.Publisher) http.Handler {
	if pub == nil {
		return meta
	}
	mux := http.NewServeMux()
	mux.Handle(upstream.JWKSPath, pub)
	mux.Handle(pub.MetadataPath(), pub)
	mux.Handle("/", meta)
	return mux
}

// warnUpstreamTokens says at start, per hop, when the caller's token
// reaches the upstream (which the MCP authorization spec forbids), and
// when minted tokens' keys are published nowhere.
func warnUpstreamTokens(cfg *config.Config, log *slog.Logger) {
	for i, r := range cfg.Resources {
		if cfg.HopUpstream(i).Mode == config.UpstreamModeNone {
			log.Warn("token passthrough: this hop forwards the caller's own token upstream, which the MCP authorization spec forbids; set upstream_token.mode: mint (with token_minting) or exchange",
				"resource", r.Resource)
		}
	}
	if cfg.TokenMinting.Enabled() && cfg.PublicListen == "" {
		log.Warn("token_minting is set but public_listen is not: the JWKS of minted tokens is served nowhere", "jwks_uri", cfg.TokenMinting.JWKSURI)
	}
}
