package examples_test

import (
	"os"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// TestExampleConfigsLoad runs mcp-authz's own config loader (unknown keys
// refused, every value validated) over every config.yaml an example ships,
// so an example can never drift from what the service accepts.
func TestExampleConfigsLoad(t *testing.T) {
	dev, err := os.ReadFile("dev/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string][]byte{"dev/config.yaml": dev}
	for _, doc := range splitDocs(t, deploymentFile) {
		var cm struct {
			Kind string            `json:"kind"`
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal(doc, &cm); err != nil {
			t.Fatal(err)
		}
		if cm.Kind == "ConfigMap" && cm.Data["config.yaml"] != "" {
			configs[deploymentFile+" ConfigMap"] = []byte(cm.Data["config.yaml"])
		}
	}
	if len(configs) != 2 {
		t.Fatalf("found %d example configs; want dev and the Istio ConfigMap", len(configs))
	}
	for name, b := range configs {
		if _, err := config.Parse(b); err != nil {
			t.Errorf("config.Parse(%s) = %v; want nil", name, err)
		}
	}
}
