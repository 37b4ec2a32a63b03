package app

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/upstream"
)

// upstreamParts are the per-hop token components built from the config.
type upstreamParts struct {
	source    *upstream.Source
	minter    *upstream.Minter
	publisher *upstream.Publisher
	keys      *upstream.Keys
}

// buildUpstream builds the minter (when token_minting is set), its JWKS
// publisher, and the per-hop token source.
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
	sc := upstream.SourceConfig{Hops: map[string]upstream.HopConfig{}, Minter: u.minter}
	for i, r := range cfg.Resources {
		ut := cfg.HopUpstream(i)
		if ut.Mode == config.UpstreamModeExchange {
			return nil, fmt.Errorf("app: resources[%d]: upstream_token.mode exchange is not available in this build", i)
		}
		sc.Hops[r.Resource] = upstream.HopConfig{Mode: upstream.Mode(ut.Mode), Audience: ut.Audience, Scope: ut.Scope}
	}
	u.source = upstream.NewSource(sc)
	return u, nil
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
