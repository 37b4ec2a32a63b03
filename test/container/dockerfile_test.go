// Package container_test checks the container image recipe (the
// repository's Dockerfile) without a Docker engine, which the test machines
// do not have: the Dockerfile is parsed with BuildKit's own parser and held
// to the image's promises (multi-stage, static CGO_ENABLED=0 build,
// distroless or scratch base, non-root numeric USER, no HEALTHCHECK), the
// binary is built exactly as the Dockerfile builds it and checked to be
// static, and the Kubernetes manifest is checked to run that image as that
// user on its ports.
package container_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

const (
	dockerfilePath = "../../Dockerfile"
	repoRoot       = "../.."
	// binaryPath is where the final stage puts the binary (ENTRYPOINT).
	binaryPath = "/usr/local/bin/mcp-authz"
)

// image is what the checks extract from the Dockerfile.
type image struct {
	build, final   instructions.Stage
	uid, gid       int
	env            []string // the build stage's ENV, as KEY=VALUE
	goBuild        []string // the go build command line's words
	exposed        []string
	entrypoint     []string
	goVersionImage string // the golang image tag
}

// parseDockerfile parses src with BuildKit and checks every rule; it
// returns what it found and every broken rule.
func parseDockerfile(src []byte) (*image, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("instructions: %w", err)
	}
	if len(stages) < 2 {
		return nil, fmt.Errorf("%d stage(s); want a multi-stage build", len(stages))
	}
	img := &image{build: stages[0], final: stages[len(stages)-1], uid: -1, gid: -1}
	var errs []error
	for _, s := range stages {
		for _, c := range s.Commands {
			if _, ok := c.(*instructions.HealthCheckCommand); ok {
				errs = append(errs, errors.New("HEALTHCHECK present; Kubernetes probes /readyz instead"))
			}
		}
	}
	errs = append(errs, img.checkBuild()...)
	errs = append(errs, img.checkFinal()...)
	return img, errors.Join(errs...)
}

// checkBuild checks the build stage: a pinned golang image, CGO_ENABLED=0,
// a go build of ./cmd/mcp-authz.
func (img *image) checkBuild() []error {
	var errs []error
	if m := regexp.MustCompile(`^golang:(\d+\.\d+(\.\d+)?)`).FindStringSubmatch(img.build.BaseName); m != nil {
		img.goVersionImage = m[1]
	} else {
		errs = append(errs, fmt.Errorf("build stage FROM %q; want a golang:<version> image", img.build.BaseName))
	}
	for _, c := range img.build.Commands {
		switch c := c.(type) {
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				img.env = append(img.env, kv.Key+"="+kv.Value)
			}
		case *instructions.RunCommand:
			line := strings.Join(c.CmdLine, " ")
			if strings.Contains(line, "go build") {
				img.goBuild = shellWords(line)
			}
		}
	}
	if !contains(img.env, "CGO_ENABLED=0") {
		errs = append(errs, errors.New("build stage lacks ENV CGO_ENABLED=0"))
	}
	if len(img.goBuild) == 0 || !contains(img.goBuild, "./cmd/mcp-authz") {
		errs = append(errs, fmt.Errorf("build stage RUN %q; want a go build of ./cmd/mcp-authz", img.goBuild))
	}
	return errs
}

// checkFinal checks the final stage: distroless static or scratch, the
// binary copied from the build stage, a non-root numeric USER, and the
// binary as ENTRYPOINT.
func (img *image) checkFinal() []error {
	var errs []error
	base := img.final.BaseName
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		errs = append(errs, fmt.Errorf("final stage FROM %q; want distroless static or scratch", base))
	}
	copied := false
	for _, c := range img.final.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			copied = copied || (c.From == img.build.Name && c.DestPath == binaryPath)
		case *instructions.UserCommand:
			img.uid, img.gid = numericUser(c.User)
		case *instructions.ExposeCommand:
			img.exposed = append(img.exposed, c.Ports...)
		case *instructions.EntrypointCommand:
			img.entrypoint = c.CmdLine
		}
	}
	if !copied {
		errs = append(errs, fmt.Errorf("final stage does not COPY --from=%s the binary to %s", img.build.Name, binaryPath))
	}
	if img.uid <= 0 || img.gid == 0 {
		errs = append(errs, errors.New("final stage USER is not a non-root numeric uid[:gid]"))
	}
	if len(img.entrypoint) == 0 || img.entrypoint[0] != binaryPath {
		errs = append(errs, fmt.Errorf("ENTRYPOINT %q; want [%s]", img.entrypoint, binaryPath))
	}
	return errs
}

// numericUser parses "uid" or "uid:gid"; -1 marks a missing or
// non-numeric part (gid -1 when absent is allowed).
func numericUser(s string) (uid, gid int) {
	u, g, hasGroup := strings.Cut(s, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		uid = -1
	}
	gid = -1
	if hasGroup {
		if gid, err = strconv.Atoi(g); err != nil {
			gid = 0 // a named group is refused like root
		}
	}
	return uid, gid
}

// shellWords splits a shell command line into words, honouring double
// quotes (enough for a go build line; no variables or escapes).
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inQuote, inWord := false, false
	for _, r := range line {
		switch {
		case r == '"':
			inQuote, inWord = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readDockerfile reads the repository's Dockerfile.
func readDockerfile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDockerfile(t *testing.T) {
	img, err := parseDockerfile(readDockerfile(t))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod); m == nil || string(m[1]) != img.goVersionImage {
		t.Errorf("build image golang:%s; want go.mod's go %s", img.goVersionImage, m[1])
	}
}

// TestDockerfileRulesCatchMutations breaks one rule at a time: each broken
// Dockerfile must be refused with a message naming the rule.
func TestDockerfileRulesCatchMutations(t *testing.T) {
	src := string(readDockerfile(t))
	cases := []struct{ name, old, new, want string }{
		{"healthcheck", "EXPOSE 9191 9192", "EXPOSE 9191 9192\nHEALTHCHECK CMD [\"/usr/local/bin/mcp-authz\", \"version\"]", "HEALTHCHECK"},
		{"root user", "USER 65532:65532", "USER 0:0", "non-root numeric"},
		{"named user", "USER 65532:65532", "USER nonroot", "non-root numeric"},
		{"no user", "USER 65532:65532\n", "", "non-root numeric"},
		{"cgo", "ENV CGO_ENABLED=0 GOOS=linux", "ENV GOOS=linux", "CGO_ENABLED=0"},
		{"full distro base", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:bookworm-slim", "distroless static or scratch"},
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\n", "", "multi-stage"},
		{"binary not copied", "COPY --from=build /out/mcp-authz /usr/local/bin/mcp-authz", "COPY --from=build /out/mcp-authz /mcp-authz", "COPY --from=build"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mutated := strings.Replace(src, tc.old, tc.new, 1)
			if mutated == src {
				t.Fatalf("mutation %q did not apply: the Dockerfile changed; update the test", tc.old)
			}
			_, err := parseDockerfile([]byte(mutated))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseDockerfile(%s) = %v; want an error naming %q", tc.name, err, tc.want)
			}
		})
	}
}

// TestImageBinaryIsStatic builds the binary with the Dockerfile's own
// environment and flags and checks that it needs no dynamic loader and no
// shared library, so it runs on distroless static or scratch.
func TestImageBinaryIsStatic(t *testing.T) {
	img, err := parseDockerfile(readDockerfile(t))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	out := filepath.Join(t.TempDir(), "mcp-authz")
	args := append([]string(nil), img.goBuild[1:]...) // drop "go"
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), img.env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, b)
	}
	if err := staticELF(out); err != nil {
		t.Errorf("the image's binary is not static: %v", err)
	}
}

// TestStaticCheckRefusesDynamicBinaries is the control: a dynamically
// linked system binary must fail staticELF.
func TestStaticCheckRefusesDynamicBinaries(t *testing.T) {
	for _, p := range []string{"/bin/sh", "/usr/bin/env", "/bin/ls"} {
		if _, err := os.Stat(p); err == nil {
			if staticELF(p) == nil {
				t.Errorf("staticELF(%s) = nil; want it reported as dynamic", p)
			}
			return
		}
	}
	t.Fatal("no system binary to use as a dynamically linked control (/bin/sh, /usr/bin/env, /bin/ls)")
}

// staticELF reports why the ELF file at path is not static: a PT_INTERP
// program header (a dynamic loader) or DT_NEEDED shared libraries.
func staticELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("PT_INTERP: it needs a dynamic loader")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("dynamic section: %w", err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("DT_NEEDED %v", libs)
	}
	return nil
}
