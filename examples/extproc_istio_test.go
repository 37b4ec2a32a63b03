package examples_test

import (
	"encoding/json"
	"fmt"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"
)

// envoyFilter is the part of an Istio EnvoyFilter the sample uses.
type envoyFilter struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		WorkloadSelector struct {
			Labels map[string]string `json:"labels"`
		} `json:"workloadSelector"`
		ConfigPatches []struct {
			ApplyTo string `json:"applyTo"`
			Match   struct {
				Context  string `json:"context"`
				Listener *struct {
					FilterChain struct {
						Filter struct {
							Name      string `json:"name"`
							SubFilter struct {
								Name string `json:"name"`
							} `json:"subFilter"`
						} `json:"filter"`
					} `json:"filterChain"`
				} `json:"listener,omitempty"`
			} `json:"match"`
			Patch struct {
				Operation string          `json:"operation"`
				Value     json.RawMessage `json:"value"`
			} `json:"patch"`
		} `json:"configPatches"`
	} `json:"spec"`
}

// TestIstioEnvoyFilterExtProc checks the EnvoyFilter sample: its ext_proc
// filter passes go-control-plane's validation with the same fail-closed
// settings as the Envoy example, sits right after Istio's ext_authz filter
// on the pods the AuthorizationPolicy selects, and reaches the provider's
// Service and port.
func TestIstioEnvoyFilterExtProc(t *testing.T) {
	docs := splitDocs(t, envoyFilterFile)
	if len(docs) != 1 {
		t.Fatalf("%s has %d documents; want 1", envoyFilterFile, len(docs))
	}
	var ef envoyFilter
	strict(t, envoyFilterFile, docs[0], &ef)
	if len(ef.Spec.ConfigPatches) != 2 {
		t.Fatalf("configPatches = %d; want 2 (the filter and the listener buffer limit)", len(ef.Spec.ConfigPatches))
	}
	cp := ef.Spec.ConfigPatches[0]
	var value struct {
		Name        string          `json:"name"`
		TypedConfig json.RawMessage `json:"typed_config"`
	}
	if err := json.Unmarshal(cp.Patch.Value, &value); err != nil {
		t.Fatal(err)
	}
	var a anypb.Any
	if err := (protojson.UnmarshalOptions{Resolver: envoyTypes(t)}).Unmarshal(value.TypedConfig, &a); err != nil {
		t.Fatalf("typed_config: %v", err)
	}
	ep := new(extprocv3.ExternalProcessor)
	if err := a.UnmarshalTo(ep); err != nil {
		t.Fatalf("typed_config is not an ExternalProcessor: %v", err)
	}
	if err := ep.ValidateAll(); err != nil {
		t.Errorf("ExternalProcessor.ValidateAll() = %v; want nil", err)
	}
	_, prov := provider(t)
	ap := loadPolicy(t)
	envoyEP := envoyConfig(t).extProc
	checkRows(t, envoyFilterFile, []row{
		{"kind", ef.Kind, "EnvoyFilter"},
		{"namespace", ef.Metadata.Namespace, ap.Metadata.Namespace},
		{"workloadSelector = the CUSTOM policy's selector", ef.Spec.WorkloadSelector.Labels, ap.Spec.Selector.MatchLabels},
		{"applyTo", cp.ApplyTo, "HTTP_FILTER"},
		{"context", cp.Match.Context, "SIDECAR_INBOUND"},
		{"after ext_authz", cp.Match.Listener.FilterChain.Filter.SubFilter.Name, extAuthzFilter},
		{"operation", cp.Patch.Operation, "INSERT_AFTER"},
		{"filter name", value.Name, extProcFilter},
		{"cluster", ep.GetGrpcService().GetEnvoyGrpc().GetClusterName(), fmt.Sprintf("outbound|%d||%s", prov.Port, prov.Service)},
		{"failure_mode_allow", ep.GetFailureModeAllow(), false},
		{"same processing as the Envoy example", protojson.Format(ep.GetProcessingMode()), protojson.Format(envoyEP.GetProcessingMode())},
		{"allow_mode_override", ep.GetAllowModeOverride(), true},
		{"allowed_override_modes", len(ep.GetAllowedOverrideModes()), len(envoyEP.GetAllowedOverrideModes())},
		{"message_timeout", ep.GetMessageTimeout().AsDuration(), envoyEP.GetMessageTimeout().AsDuration()},
		{"forwarding_namespaces", ep.GetMetadataOptions().GetForwardingNamespaces().GetUntyped(), []string{extAuthzFilter}},
		{"listener patch", ef.Spec.ConfigPatches[1].ApplyTo, "LISTENER"},
	})
}
