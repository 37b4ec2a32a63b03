package registry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestFetchRefusesCrossHostRedirect: the bearer token must never follow a
// redirect to another host.
func TestFetchRefusesCrossHostRedirect(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer other.Close()
	// Same loopback IP, other port: a different host as far as HTTP goes.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	_, err := FetchTools(context.Background(), redirector.URL+"/mcp", "secret-token", FetchOptions{})
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Errorf("FetchTools via a cross-host redirect = %v; want the redirect refused", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error %q contains the token", err)
	}
	if leaked.Load() {
		t.Error("the bearer token reached the other host")
	}
}
