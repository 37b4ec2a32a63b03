package config

import (
	"strings"
	"testing"
	"time"
)

const minimal = `
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: keys/jwks.json
`

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatalf("Parse(minimal) = %v; want nil", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, DefaultListen},
		{"admin_listen", c.AdminListen, DefaultAdminListen},
		{"mcp_path", c.MCPPath, "/mcp"},
		{"roles_claim", c.RolesClaim, "roles"},
		{"roles_claim_format", c.RolesClaimFormat, "array"},
		{"issuers[0].require_claims", len(c.Issuers[0].RequireClaims), 0},
		{"issuers[0].allow_multi_audience", c.Issuers[0].AllowMultiAudience, false},
		{"issuers[0].kid_optional", c.Issuers[0].KIDOptional, false},
		{"issuers[0].dpop.ignore_proof_with_bearer", c.Issuers[0].DPoP.IgnoreProofWithBearer, false},
		{"policy_deny_status", c.PolicyDenyStatus, 200},
		{"deny_format", c.DenyFormat, "jsonrpc_error"},
		{"limits.body_bytes", c.Limits.BodyBytes, DefaultBodyBytes},
		{"policy.deadline", c.Policy.Deadline.D(), 50 * time.Millisecond},
		{"policy.decision_cache.size", c.Policy.DecisionCache.Entries(), DefaultDecisionCacheSize},
		{"resources", len(c.Resources), 1},
		{"resources[0].public_origin", c.Resources[0].PublicOrigin, "https://mcp.example.test"},
		{"resources[0].path", c.Resources[0].Path, "/mcp"},
		{"check_deadline_margin", c.CheckDeadlineMargin.D(), 20 * time.Millisecond},
		{"shutdown.lame_duck", c.Shutdown.LameDuckD(), 5 * time.Second},
		{"shutdown.timeout", c.Shutdown.Timeout.D(), 10 * time.Second},
		{"admin_listen_public", c.AdminListenPublic, false},
		{"decision_log.compress", c.DecisionLog.Compress, false},
	}
	for _, tc := range checks {
		if tc.got != tc.want {
			t.Errorf("%s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every substring must appear in the one error
	}{
		{"unknown keys all reported", minimal + "listne: x\nlimits:\n  body_byte: 1\nissuers_extra: 1\n",
			[]string{"listne: unknown key", "limits.body_byte: unknown key", "issuers_extra: unknown key"}},
		{"unknown key in list item", `
resource: https://mcp.example.test/mcp
issuers:
  - issuer: a
    jwks_file: f
    jwks: x
`, []string{"issuers[0].jwks: unknown key"}},
		{"wrong type", minimal + "policy_deny_status: abc\n", []string{"policy_deny_status"}},
		{"unknown deny format", minimal + "deny_format: problem_json\n", []string{"deny_format: must be jsonrpc_error or tool_result"}},
		{"bad duration", minimal + "policy:\n  deadline: soon\n", []string{"invalid duration"}},
		{"many invalid values", `
listen: nope
resource: not-a-uri
policy_deny_status: 404
limits:
  body_bytes: -1
`, []string{"listen: want host:port", "resource: want an absolute URI", "issuers: at least one issuer", "policy_deny_status: must be 200 or 403", "limits.body_bytes: must be positive"}},
		{"no resource", "issuers: [{issuer: a, jwks_file: f}]\n", []string{"resource: required"}},
		{"hmac algorithm", minimal + "", nil},
		{"issuer without keys", "resource: https://x.test/mcp\nissuers: [{issuer: a}]\n", []string{"issuers[0]: exactly one of jwks_file"}},
		{"hs256 refused", "resource: https://x.test/mcp\nissuers: [{issuer: a, jwks_file: f, algorithms: [HS256, none]}]\n",
			[]string{`"HS256" is not allowed`, `"none" is not allowed`}},
		{"public equals admin", minimal + "public_listen: 127.0.0.1:9192\n", []string{"public_listen: must differ"}},
		{"origin with path", minimal + "allowed_origins: [https://a.test/x]\n", []string{"allowed_origins[0]"}},
		{"verification key without a bundle file", minimal + "bundle:\n  verification_key_file: k.pub\n", []string{"bundle.verification_key_file: the embedded bundle is not signed"}},
		{"bundle keys map", minimal + "bundle: {url: 'https://b.test/b.tar.gz', keys: {ci-2026: {algorithm: ES256, key_file: ci.pub}, ci-2025: {key_file: old.pub}}, key_id: ci-2026, scope: prod}\n", nil},
		{"bundle key file with algorithm and scope", minimal + "bundle: {path: b.tar.gz, verification_key_file: k.pub, verification_algorithm: ES384, key_id: ops, scope: prod}\n", nil},
		{"bundle key errors name the key", minimal + "bundle: {path: b.tar.gz, keys: {ci: {algorithm: HS256, key_file: s}, old: {algorithm: EdDSA}}, key_id: nope}\n",
			[]string{`bundle.keys.ci.algorithm: "HS256" is not allowed`, `bundle.keys.old.algorithm: "EdDSA" is not allowed`,
				"bundle.keys.old.key_file: required", `bundle.key_id: "nope" is not in bundle.keys`}},
		{"bundle key file and map", minimal + "bundle: {path: b.tar.gz, verification_key_file: k.pub, keys: {ci: {key_file: ci.pub}}}\n",
			[]string{"bundle.keys: use bundle.verification_key_file or bundle.keys, not both"}},
		{"bundle algorithm without a key file", minimal + "bundle: {path: b.tar.gz, verification_algorithm: RS256, keys: {ci: {key_file: ci.pub}}}\n",
			[]string{"bundle.verification_algorithm: only with bundle.verification_key_file"}},
		{"bundle hmac verification algorithm", minimal + "bundle: {path: b.tar.gz, verification_key_file: k.pub, verification_algorithm: HS256}\n",
			[]string{`bundle.verification_algorithm: "HS256" is not allowed`}},
		{"bundle scope without keys", minimal + "bundle: {path: b.tar.gz, scope: prod, key_id: ci}\n",
			[]string{"bundle.scope: needs bundle.verification_key_file or bundle.keys", "bundle.key_id: needs bundle.verification_key_file or bundle.keys"}},
		{"bundle keys for the embedded bundle", minimal + "bundle: {keys: {ci: {key_file: ci.pub}}}\n", []string{"bundle.keys: the embedded bundle is not signed"}},
		{"unknown key in a bundle key", minimal + "bundle: {path: b.tar.gz, keys: {ci: {key_file: ci.pub, scope: x}}}\n", []string{"bundle.keys.ci.scope: unknown key"}},
		{"unknown roles_claim_format", minimal + "roles_claim_format: csv\n", []string{`roles_claim_format: must be array, string or space_separated, got "csv"`}},
		{"unknown required claim", "resource: https://x.test/mcp\nissuers: [{issuer: a, jwks_file: f, require_claims: [client_id, email]}]\n",
			[]string{`issuers[0].require_claims: "email" is not one of`}},
		{"unknown key in issuer dpop", "resource: https://x.test/mcp\nissuers: [{issuer: a, jwks_file: f, dpop: {ignore_proof: true}}]\n",
			[]string{"issuers[0].dpop.ignore_proof: unknown key"}},
		{"every token-profile knob", "resource: https://x.test/mcp\nroles_claim_format: space_separated\n" +
			"issuers: [{issuer: a, jwks_file: f, require_claims: [client_id, jti, iat], allow_multi_audience: true, kid_optional: true, dpop: {ignore_proof_with_bearer: true}}]\n", nil},
		{"operations keys", minimal + "mode: shadow\ndecision_log: {output: file, path: /tmp/d.log, compress: true, mask_arguments: true}\n" +
			"tracing: {exporter: otlp_grpc, endpoint: 'http://127.0.0.1:4317', sample_ratio: 0.5}\n", nil},
		{"bad operations values", minimal + "mode: dry-run\ndecision_log: {output: kafka, buffer_records: -1, flush_interval: 1m}\n" +
			"tracing: {exporter: zipkin, endpoint: nope, sample_ratio: 2}\n",
			[]string{`mode: must be enforce or shadow, got "dry-run"`, `decision_log.output: must be stdout, file or http`,
				"decision_log.buffer_records: must be in", "decision_log.flush_interval: must be in", `tracing.exporter: must be otlp_grpc or otlp_http`,
				"tracing.endpoint: want a collector URL", "tracing.sample_ratio: must be in [0, 1]"}},
		{"bundle server", minimal + "bundle: {url: 'https://b.test/bundles/mcp.tar.gz', poll: {min_delay: 2s, max_delay: 5s, long_polling_timeout: 30s}, credentials_file: t, ca_file: c, persist_dir: /tmp/p}\n", nil},
		{"bad bundle server", minimal + "bundle: {url: 'ftp://u:p@b.test/x', path: p, poll: {min_delay: 5s, max_delay: 1s, long_polling_timeout: 10ms}}\n",
			[]string{"bundle.url: use bundle.path or bundle.url", "bundle.url: want an http(s) URL without userinfo",
				"bundle.poll: want 1s <= min_delay <= max_delay", "bundle.poll.long_polling_timeout: at least 1s"}},
		{"server-only bundle keys", minimal + "bundle: {path: p, persist_dir: d}\n", []string{"bundle.persist_dir: only with bundle.url"}},
		{"tls halves", minimal + "tls: {cert_file: c, client_ca_file: ca, admin: {key_file: k}, public: {client_ca_file: ca}}\n",
			[]string{"tls: cert_file and key_file go together", "tls.admin: cert_file and key_file go together",
				"tls.public.client_ca_file: needs cert_file"}},
		{"decision log needs its target", minimal + "decision_log: {output: file}\n", []string{"decision_log.path: required"}},
		{"decision cache off", minimal + "policy: {decision_cache: {size: 0}}\n", nil},
		{"decision cache bounds", minimal + "policy: {decision_cache: {size: -1}}\n", []string{"policy.decision_cache.size: must be in [0, 1048576], got -1"}},
		{"per-hop mode", "resources: [{path: /a, resource: https://a.test/a, mode: maybe}]\nissuers: [{issuer: a, jwks_file: f}]\n",
			[]string{`resources[0].mode: must be enforce or shadow`}},
		{"shutdown alias conflict", minimal + "shutdown_timeout: 3s\nshutdown:\n  timeout: 4s\n", []string{"shutdown_timeout: is an alias of shutdown.timeout"}},
		{"shutdown alias agrees", minimal + "shutdown_timeout: 3s\nshutdown:\n  timeout: 3s\n", nil},
		{"negative lame duck", minimal + "shutdown:\n  lame_duck: -1s\n", []string{"shutdown.lame_duck: must be in [0, 10m]"}},
		{"margin too large", minimal + "check_deadline_margin: 2s\n", []string{"check_deadline_margin: must be in [0, 1s]"}},
		{"both resource and resources", minimal + "resources: [{path: /a, resource: https://a.test/a}]\n", []string{"not both"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Parse = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse = nil; want error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestShutdownKeys: shutdown_timeout is an alias of shutdown.timeout, and
// an explicit lame_duck of 0s turns the lame-duck period off.
func TestShutdownKeys(t *testing.T) {
	tests := []struct {
		name, yaml        string
		lameDuck, timeout time.Duration
	}{
		{"alias only", minimal + "shutdown_timeout: 3s\n", 5 * time.Second, 3 * time.Second},
		{"new key only", minimal + "shutdown:\n  timeout: 4s\n  lame_duck: 2s\n", 2 * time.Second, 4 * time.Second},
		{"lame duck off", minimal + "shutdown:\n  lame_duck: 0s\n", 0, 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if got := c.Shutdown.LameDuckD(); got != tc.lameDuck {
				t.Errorf("lame duck = %s; want %s", got, tc.lameDuck)
			}
			if got := c.Shutdown.Timeout.D(); got != tc.timeout {
				t.Errorf("timeout = %s; want %s", got, tc.timeout)
			}
		})
	}
}

func TestResourcesTable(t *testing.T) {
	c, err := Parse([]byte(`
resources:
  - {host: mcp.example.test, path: /mcp, resource: https://mcp.example.test/mcp}
  - {host: mcp.example.test, path: /other, resource: https://mcp.example.test/other, public_origin: https://edge.example.test}
issuers: [{issuer: a, jwks_file: f}]
`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if got := c.Resources[1].PublicOrigin; got != "https://edge.example.test" {
		t.Errorf("resources[1].public_origin = %q; want the configured one", got)
	}
	if got := c.Resources[0].PublicOrigin; got != "https://mcp.example.test" {
		t.Errorf("resources[0].public_origin = %q; want derived origin", got)
	}
}

// TestDecisionCacheSize: unset is the default, 0 is off, a number is kept.
func TestDecisionCacheSize(t *testing.T) {
	for yaml, want := range map[string]int{"": DefaultDecisionCacheSize, "policy: {decision_cache: {size: 0}}\n": 0,
		"policy: {decision_cache: {size: 10}}\n": 10} {
		c, err := Parse([]byte(minimal + yaml))
		if err != nil {
			t.Fatalf("Parse(%q): %v", yaml, err)
		}
		if got := c.Policy.DecisionCache.Entries(); got != want {
			t.Errorf("Parse(%q) decision cache size %d; want %d", yaml, got, want)
		}
	}
}
