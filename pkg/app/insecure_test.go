package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/mcp-authz/mcp-authz/pkg/config"
)

func TestWarnAdminListen(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		public bool
		warn   bool
	}{
		{"loopback v4", "127.0.0.1:9192", false, false},
		{"loopback v6", "[::1]:9192", false, false},
		{"localhost", "localhost:9192", false, false},
		{"all interfaces", "0.0.0.0:9192", false, true},
		{"empty host", ":9192", false, true},
		{"all v6", "[::]:9192", false, true},
		{"pod address", "10.1.2.3:9192", false, true},
		{"a name", "admin.internal:9192", false, true},
		{"declared public", "0.0.0.0:9192", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			warnAdminListen(&config.Config{AdminListen: tc.addr, AdminListenPublic: tc.public}, slog.New(slog.NewTextHandler(&buf, nil)))
			got := strings.Contains(buf.String(), "[INSECURE CONFIG]")
			if got != tc.warn {
				t.Errorf("warnAdminListen(%q, public=%v) warned = %v; want %v (%s)", tc.addr, tc.public, got, tc.warn, buf.String())
			}
			if got && !strings.Contains(buf.String(), "/metrics") {
				t.Errorf("warning %q does not name what it exposes", buf.String())
			}
		})
	}
}
