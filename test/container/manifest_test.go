package container_test

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// deploymentPath is the Kubernetes manifest that runs the image.
const deploymentPath = "../../examples/istio/deployment.yaml"

// imageRepository is where the image built from the Dockerfile is published
// (examples reference it; replace it with your registry).
const imageRepository = "ghcr.io/mcp-authz/mcp-authz"

// loadDeployment decodes the Deployment document of deploymentPath with
// Kubernetes' own type, unknown fields refused.
func loadDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	b, err := os.ReadFile(deploymentPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if !regexp.MustCompile(`(?m)^kind: Deployment\s*$`).MatchString(doc) {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict([]byte(doc), &d); err != nil {
			t.Fatalf("%s: Deployment: %v", deploymentPath, err)
		}
		return &d
	}
	t.Fatalf("%s: no Deployment", deploymentPath)
	return nil
}

// TestDeploymentRunsTheImage checks the manifest runs the Dockerfile's
// image as its user, on its ports, with its entrypoint's serve command.
func TestDeploymentRunsTheImage(t *testing.T) {
	img, err := parseDockerfile(readDockerfile(t))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	d := loadDeployment(t)
	pod := d.Spec.Template.Spec
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsUser == nil || int(*sc.RunAsUser) != img.uid || sc.RunAsGroup == nil || int(*sc.RunAsGroup) != img.gid ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("pod securityContext %+v; want runAsNonRoot with the image's USER %d:%d", sc, img.uid, img.gid)
	}
	var found bool
	for _, c := range pod.Containers {
		if c.Name != "mcp-authz" {
			continue
		}
		found = true
		repo, tag, _ := strings.Cut(c.Image, ":")
		if repo != imageRepository || tag == "" || tag == "latest" {
			t.Errorf("container image %q; want %s:<pinned tag>", c.Image, imageRepository)
		}
		if len(c.Command) != 0 || len(c.Args) == 0 || c.Args[0] != "serve" || !strings.HasPrefix(strings.Join(c.Args, " "), "serve --config=") {
			t.Errorf("container command %q args %q; want the image's ENTRYPOINT with serve --config=…", c.Command, c.Args)
		}
		for _, p := range c.Ports {
			if !contains(img.exposed, strconv.Itoa(int(p.ContainerPort))) {
				t.Errorf("container port %d is not EXPOSEd by the image (%v)", p.ContainerPort, img.exposed)
			}
		}
	}
	if !found {
		t.Errorf("no mcp-authz container in the Deployment")
	}
}

// TestDeploymentDecodeIsStrict is the control: an unknown field in the
// Deployment is refused by the strict decode.
func TestDeploymentDecodeIsStrict(t *testing.T) {
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicaz: 2\n")
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(doc, &d); err == nil || !bytes.Contains([]byte(err.Error()), []byte("replicaz")) {
		t.Errorf("UnmarshalStrict(replicaz) = %v; want an unknown-field error", err)
	}
}
