package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// BenchmarkCheckMinting drives the real Check over the fixture mix with a
// minted token per allowed request (ES256), next to the same mix without
// minting: the difference is what per-hop tokens cost on the hot path
// with the minted-token cache warm (the mix repeats its callers).
func BenchmarkCheckMinting(b *testing.B) {
	key := writeSigningKey(b, b.TempDir(), "signing.pem", "ES256")
	for _, tc := range []struct{ name, yaml string }{
		{"passthrough", testConfig},
		{"mint-es256", fmt.Sprintf(mintConfig, key, "ES256")},
	} {
		cfg, err := config.Parse([]byte(tc.yaml))
		if err != nil {
			b.Fatal(err)
		}
		comp, err := app.Build(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		reqs := loadMix(b, "testdata/mcp-mix.json")
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				resp, err := comp.Server.Check(context.Background(), reqs[i%len(reqs)])
				if err != nil || resp.GetStatus() == nil {
					b.Fatalf("Check = %v, %v", resp, err)
				}
				i++
			}
		})
		comp.Close()
	}
}
