package bundlesrc

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/download"
)

func TestDownloadErrorHidesTheURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"http status", download.HTTPError{StatusCode: 503}, "answered 503"},
		{"unreachable", &url.Error{Op: "Get", URL: "https://b.test/x?token=secret", Err: errors.New("refused")}, "unreachable"},
		{"other", errors.New("bundle missing .signatures.json file"), "signatures"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := downloadError(tc.err).Error()
			if !strings.Contains(got, tc.want) || strings.Contains(got, "secret") {
				t.Errorf("downloadError(%v) = %q; want %q and no URL", tc.err, got, tc.want)
			}
		})
	}
}

func TestPersistRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	if _, err := readPersisted(dir); !errors.Is(err, errNoPersisted) {
		t.Fatalf("readPersisted(empty) = %v; want errNoPersisted", err)
	}
	for _, body := range []string{"first", "second"} {
		if err := persist(dir, bytes.NewReader([]byte(body))); err != nil {
			t.Fatal(err)
		}
		got, err := readPersisted(dir)
		if err != nil || string(got) != body {
			t.Errorf("readPersisted = %q, %v; want %q", got, err, body)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("persist_dir holds %d files; want only %s (no temporary left)", len(entries), persistName)
	}
}

func TestFingerprintSeesChanges(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.rego")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := fingerprint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := fingerprint(dir); again != before {
		t.Errorf("fingerprint changed without a change")
	}
	if err := os.Chtimes(f, time.Time{}, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if after, _ := fingerprint(dir); after == before {
		t.Errorf("fingerprint did not see a new mtime")
	}
	if _, err := fingerprint(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("fingerprint(missing) = nil error")
	}
}
