package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestReloadKeysClassifyEveryKey holds the two sets to the Config type: a
// new top-level key must be declared reloadable or restart-only.
func TestReloadKeysClassifyEveryKey(t *testing.T) {
	seen := map[string]int{}
	for _, k := range ReloadableKeys {
		seen[k]++
	}
	for _, k := range RestartKeys {
		seen[k]++
	}
	ct := reflect.TypeOf(Config{})
	for i := range ct.NumField() {
		name := jsonName(ct.Field(i))
		if seen[name] != 1 {
			t.Errorf("key %q is in %d of ReloadableKeys/RestartKeys; want exactly 1", name, seen[name])
		}
		delete(seen, name)
	}
	for k := range seen {
		t.Errorf("key %q is classified but is not a Config key", k)
	}
}

func TestReloadProblems(t *testing.T) {
	tests := []struct {
		name    string
		extra   string   // appended to minimal for the next config
		start   string   // appended to minimal for the started config
		want    []string // substrings of the error; empty: accepted
		changed []string
	}{
		{name: "identical", changed: nil},
		{name: "new issuer", extra: "  - issuer: https://new.example.test\n    jwks_file: keys/new.json\n",
			changed: []string{"issuers"}},
		{name: "hops, origins, log level and limits", extra: "log_level: debug\nallowed_origins: [https://a.test]\nlimits: {json_depth: 8, token_bytes: 4096}\nmcp_path: /other\n",
			changed: []string{"mcp_path", "resources", "allowed_origins", "limits", "log_level"}},
		{name: "shadow mode and deny format", extra: "mode: shadow\ndeny_format: tool_result\n", changed: []string{"resources", "deny_format", "mode"}},
		{name: "listen address", extra: "listen: 127.0.0.1:1\n", want: []string{"listen: changed"}, changed: []string{"listen"}},
		{name: "tls listener", extra: "tls: {cert_file: c.pem, key_file: k.pem}\n", want: []string{"tls: changed"}, changed: []string{"tls"}},
		{name: "rate limit backend", extra: "rate_limits: {backend: redis, redis: {addr: 127.0.0.1:6379}}\n",
			want: []string{"rate_limits: changed"}, changed: []string{"rate_limits"}},
		{name: "bundle and decision log at once", extra: "bundle: {path: b.tar.gz}\ndecision_log: {output: stdout}\n",
			want: []string{"bundle: changed", "decision_log: changed"}, changed: []string{"bundle", "decision_log"}},
		{name: "max in flight", extra: "limits: {max_in_flight: 10}\n", want: []string{"limits.max_in_flight"}, changed: []string{"limits"}},
		{name: "body bytes above the gRPC bound", extra: "limits: {body_bytes: 8388608}\n", want: []string{"limits.body_bytes: 8388608 exceeds"},
			changed: []string{"limits"}},
		{name: "body bytes back up to the bound", start: "limits: {body_bytes: 1048576}\n", extra: "limits: {body_bytes: 4194304}\n",
			changed: []string{"limits"}},
		{name: "body bytes lowered", extra: "limits: {body_bytes: 1024}\n", changed: []string{"limits"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			started := mustParse(t, minimal+tc.start)
			next := mustParse(t, minimal+tc.extra)
			if got := ChangedKeys(started, next); !slices.Equal(got, tc.changed) {
				t.Errorf("ChangedKeys = %v; want %v", got, tc.changed)
			}
			err := ReloadProblems(started, next)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("ReloadProblems = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReloadProblems = nil; want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ReloadProblems = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func mustParse(t *testing.T, y string) *Config {
	t.Helper()
	c, err := Parse([]byte(y))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}
