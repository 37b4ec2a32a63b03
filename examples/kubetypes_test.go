package examples_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	apinetworking "istio.io/api/networking/v1alpha3"
	apisecurity "istio.io/api/security/v1beta1"
	networkingv1alpha3 "istio.io/client-go/pkg/apis/networking/v1alpha3"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// The Istio and Kubernetes examples are decoded with their projects' own
// API types (k8s.io/api, istio.io/client-go, istio.io/api), strictly: an
// unknown or misspelt field anywhere is an error, where kubectl would warn
// and Istio would silently ignore it (a misspelt failOpen is a fail-open
// policy). The cross-checks in examples_test.go keep their small structs
// where they must tell an explicit false from an absent field, which proto3
// booleans cannot.

// decodeStrictJSON decodes one YAML document into a Go API type: unknown
// fields refused, and (encoding/json matching names case-insensitively)
// every key spelt exactly as the type names it.
func decodeStrictJSON(doc []byte, into any) error {
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		return err
	}
	var orig, back any
	if err := yaml.Unmarshal(doc, &orig); err != nil {
		return err
	}
	js, err := json.Marshal(into)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(js, &back); err != nil {
		return err
	}
	if bad := foreignKeys("", orig, back); len(bad) > 0 {
		return fmt.Errorf("keys %v are not spelt as %T names them", bad, into)
	}
	return nil
}

// decodeProto decodes the member key of a YAML document into an istio.io/api
// message with protojson, which refuses unknown fields and bad enum values
// (client-go's own spec decoder allows unknown fields).
func decodeProto(doc []byte, key string, into proto.Message) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return err
	}
	raw, ok := top[key]
	if !ok {
		return fmt.Errorf("no %q", key)
	}
	if err := protojson.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// decodeIstioObject decodes an Istio custom resource: the object with its
// client-go type, the spec with its istio.io/api message.
func decodeIstioObject(doc []byte, obj any, spec proto.Message) error {
	return errors.Join(decodeStrictJSON(doc, obj), decodeProto(doc, "spec", spec))
}

// decodeMesh decodes meshconfig.yaml: Helm/IstioOperator values with one
// meshConfig key holding an istio.mesh.v1alpha1.MeshConfig.
func decodeMesh(doc []byte) error {
	var top map[string]any
	if err := yaml.Unmarshal(doc, &top); err != nil {
		return err
	}
	if len(top) != 1 || top["meshConfig"] == nil {
		return fmt.Errorf("top-level keys %v; want meshConfig only", mapKeys(top))
	}
	return decodeProto(doc, "meshConfig", &meshv1alpha1.MeshConfig{})
}

// decodeDoc decodes one document of an example file by its kind.
func decodeDoc(doc []byte) (string, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "", err
	}
	id := tm.APIVersion + " " + tm.Kind
	switch id {
	case " ":
		return "MeshConfig", decodeMesh(doc)
	case "v1 ConfigMap":
		return id, decodeStrictJSON(doc, &corev1.ConfigMap{})
	case "v1 Service":
		return id, decodeStrictJSON(doc, &corev1.Service{})
	case "apps/v1 Deployment":
		return id, decodeStrictJSON(doc, &appsv1.Deployment{})
	case "security.istio.io/v1 AuthorizationPolicy":
		return id, decodeIstioObject(doc, &securityv1.AuthorizationPolicy{}, &apisecurity.AuthorizationPolicy{})
	case "networking.istio.io/v1alpha3 EnvoyFilter":
		return id, decodeIstioObject(doc, &networkingv1alpha3.EnvoyFilter{}, &apinetworking.EnvoyFilter{})
	}
	return id, fmt.Errorf("no API type for %q", id)
}

// istioFiles are every manifest under examples/istio.
var istioFiles = []string{meshConfigFile, authzPolicy, deploymentFile, envoyFilterFile}

// decodeFile decodes every document of an example file's contents.
func decodeFile(t *testing.T, file string, src []byte) error {
	t.Helper()
	var errs []error
	for _, d := range docSeparator.Split(string(src), -1) {
		if !hasContent(d) {
			continue
		}
		if kind, err := decodeDoc([]byte(d)); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", file, kind, err))
		}
	}
	return errors.Join(errs...)
}

// TestIstioManifestsDecodeWithTheirTypes decodes every Istio and Kubernetes
// example with its own API type, strictly.
func TestIstioManifestsDecodeWithTheirTypes(t *testing.T) {
	for _, f := range istioFiles {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeFile(t, f, src); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// TestIstioManifestMutationsAreRefused breaks each manifest the way a hand
// edit does (a misspelt or unknown field, a bad enum value) and expects the
// typed decode to refuse it.
func TestIstioManifestMutationsAreRefused(t *testing.T) {
	cases := []struct{ file, old, new string }{
		{meshConfigFile, "failOpen:", "failopen:"},
		{meshConfigFile, "packAsBytes:", "packAsByte:"},
		{authzPolicy, "notPaths:", "notpaths:"},
		{authzPolicy, "action: CUSTOM", "action: CUSTOMISED"},
		{authzPolicy, "  selector:", "  selektor:"},
		{deploymentFile, "replicas:", "replicaz:"},
		{deploymentFile, "targetPort:", "targetport:"},
		{deploymentFile, "runAsNonRoot:", "runAsNonroot:"},
		{deploymentFile, "\ndata:", "\ndta:"},
		{envoyFilterFile, "configPatches:", "configPatchez:"},
	}
	for _, tc := range cases {
		t.Run(tc.file+" "+tc.new, func(t *testing.T) {
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			mutated := strings.Replace(string(src), tc.old, tc.new, 1)
			if mutated == string(src) {
				t.Fatalf("%q not found in %s: the example changed; update the mutation", tc.old, tc.file)
			}
			if err := decodeFile(t, tc.file, []byte(mutated)); err == nil {
				t.Errorf("%s with %q → %q decoded; want an error", tc.file, tc.old, tc.new)
			}
		})
	}
}
