package examples_test

import (
	"strings"
	"testing"
)

const upstreamTokensFile = "istio/upstream-minted-tokens.yaml"

// requestAuthentication is the part of security.istio.io/v1
// RequestAuthentication the example uses, strict.
type requestAuthentication struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		JWTRules []struct {
			Issuer               string   `json:"issuer"`
			JWKSURI              string   `json:"jwksUri"`
			Audiences            []string `json:"audiences"`
			ForwardOriginalToken bool     `json:"forwardOriginalToken"`
		} `json:"jwtRules"`
	} `json:"spec"`
}

// principalPolicy is an ALLOW AuthorizationPolicy on request principals.
type principalPolicy struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Action string `json:"action"`
		Rules  []struct {
			From []struct {
				Source struct {
					RequestPrincipals []string `json:"requestPrincipals"`
				} `json:"source"`
			} `json:"from"`
		} `json:"rules"`
	} `json:"spec"`
}

// TestIstioUpstreamVerifiesMintedTokens checks the upstream's side of
// per-hop tokens: it verifies mcp-authz's issuer against the JWKS path
// mcp-authz serves, for its own audience, and admits only that issuer's
// principals, on the same workload.
func TestIstioUpstreamVerifiesMintedTokens(t *testing.T) {
	docs := splitDocs(t, upstreamTokensFile)
	if len(docs) != 2 {
		t.Fatalf("%s has %d documents; want 2", upstreamTokensFile, len(docs))
	}
	var ra requestAuthentication
	var ap principalPolicy
	strict(t, upstreamTokensFile, docs[0], &ra)
	strict(t, upstreamTokensFile, docs[1], &ap)
	if len(ra.Spec.JWTRules) != 1 || len(ap.Spec.Rules) != 1 || len(ap.Spec.Rules[0].From) != 1 {
		t.Fatalf("want one jwtRule and one rule with one source")
	}
	rule := ra.Spec.JWTRules[0]
	principals := ap.Spec.Rules[0].From[0].Source.RequestPrincipals
	checkRows(t, upstreamTokensFile, []row{
		{"RequestAuthentication kind", ra.APIVersion + " " + ra.Kind, "security.istio.io/v1 RequestAuthentication"},
		{"jwksUri is mcp-authz's JWKS path", strings.HasSuffix(rule.JWKSURI, "/.well-known/jwks.json"), true},
		{"issuer is https", strings.HasPrefix(rule.Issuer, "https://"), true},
		{"an audience is required", len(rule.Audiences) > 0, true},
		{"AuthorizationPolicy action", ap.Spec.Action, "ALLOW"},
		{"only the minting issuer's principals", strings.Join(principals, ","), rule.Issuer + "/*"},
		{"both select the same workload", ra.Spec.Selector.MatchLabels["app"], ap.Spec.Selector.MatchLabels["app"]},
		{"same namespace", ra.Metadata.Namespace, ap.Metadata.Namespace},
	})
}
