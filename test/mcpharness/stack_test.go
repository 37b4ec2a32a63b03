package mcpharness

import (
	"encoding/json"
	"os"
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/mcp-authz/mcp-authz/test/envoyshim"
)

// exampleExtAuthz reads the ext_authz filter of examples/envoy/envoy.yaml.
func exampleExtAuthz(t *testing.T) *extauthzv3.ExtAuthz {
	t.Helper()
	raw, err := os.ReadFile("../../examples/envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var boot struct {
		StaticResources struct {
			Listeners []struct {
				FilterChains []struct {
					Filters []struct {
						TypedConfig struct {
							HTTPFilters []struct {
								Name        string         `json:"name"`
								TypedConfig map[string]any `json:"typed_config"`
							} `json:"http_filters"`
						} `json:"typed_config"`
					} `json:"filters"`
				} `json:"filter_chains"`
			} `json:"listeners"`
		} `json:"static_resources"`
	}
	if err := yaml.Unmarshal(raw, &boot); err != nil {
		t.Fatal(err)
	}
	for _, l := range boot.StaticResources.Listeners {
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				for _, hf := range f.TypedConfig.HTTPFilters {
					if hf.Name != "envoy.filters.http.ext_authz" {
						continue
					}
					delete(hf.TypedConfig, "@type")
					js, _ := json.Marshal(hf.TypedConfig)
					out := &extauthzv3.ExtAuthz{}
					if err := protojson.Unmarshal(js, out); err != nil {
						t.Fatalf("ext_authz typed_config: %v", err)
					}
					return out
				}
			}
		}
	}
	t.Fatal("examples/envoy/envoy.yaml has no envoy.filters.http.ext_authz filter")
	return nil
}

// TestGateDefaultsAreTheEnvoyExample keeps GateDefaults equal to the
// ext_authz filter operators copy (examples/envoy/envoy.yaml), except the
// Check timeout, which the tests lengthen on purpose.
func TestGateDefaultsAreTheEnvoyExample(t *testing.T) {
	want := envoyshim.FromExtAuthz(exampleExtAuthz(t))
	if want.Body == nil || !want.EncodeRawHeaders {
		t.Fatalf("example ext_authz %+v; want with_request_body and encode_raw_headers", want)
	}
	got := GateDefaults()
	ignore := cmpopts.IgnoreFields(envoyshim.Config{}, "Timeout")
	if d := cmp.Diff(want, got, ignore, cmpopts.IgnoreUnexported(envoyshim.Config{})); d != "" {
		t.Errorf("GateDefaults() differs from examples/envoy/envoy.yaml's ext_authz (-example +defaults):\n%s", d)
	}
}
