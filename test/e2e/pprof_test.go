package e2e

import (
	"net/http"
	"testing"
)

// TestPprofOptIn: the profiler is served on the admin listener only when
// the config asks for it, and never on the public listener.
func TestPprofOptIn(t *testing.T) {
	tests := []struct {
		name      string
		extra     string
		wantAdmin int
	}{
		{"default off", "", http.StatusNotFound},
		{"pprof: true", "pprof: true\n", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := startAppYAML(t, e2eConfig+tc.extra)
			if got := getStatus(t, "http://"+a.Addr("admin")+"/debug/pprof/"); got != tc.wantAdmin {
				t.Errorf("admin /debug/pprof/ = %d; want %d", got, tc.wantAdmin)
			}
			if got := getStatus(t, "http://"+a.Addr("public")+"/debug/pprof/"); got != http.StatusNotFound {
				t.Errorf("public /debug/pprof/ = %d; want 404", got)
			}
		})
	}
}

// getStatus GETs url and returns the status code.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
