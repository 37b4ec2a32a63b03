package mcp

import (
	"slices"
	"testing"
)

func TestParseRevision(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Revision
		ok   bool
	}{
		{"2025-06-18", Rev20250618, true},
		{"2025-11-25", Rev20251125, true},
		{"2026-07-28", Rev20260728, true},
		{"2025-03-26", "", false},
		{"2024-11-05", "", false},
		{"draft", "", false},
		{"", "", false},
		{" 2025-06-18", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := ParseRevision(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ParseRevision(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSupportedRevisionsIsACopy(t *testing.T) {
	got := SupportedRevisions()
	want := []Revision{Rev20250618, Rev20251125, Rev20260728}
	if !slices.Equal(got, want) {
		t.Fatalf("SupportedRevisions() = %v; want %v", got, want)
	}
	got[0] = "x"
	if again := SupportedRevisions(); !slices.Equal(again, want) {
		t.Errorf("SupportedRevisions() after a caller's write = %v; want %v", again, want)
	}
}

func TestKnownMethod(t *testing.T) {
	for _, tc := range []struct {
		rev    Revision
		method string
		want   bool
	}{
		{Rev20250618, "initialize", true},
		{Rev20250618, "tools/call", true},
		{Rev20250618, "resources/subscribe", true},
		{Rev20250618, "notifications/roots/list_changed", true},
		{Rev20250618, "tasks/get", false},
		{Rev20250618, "server/discover", false},
		{Rev20250618, "sampling/createMessage", false}, // server to client
		{Rev20251125, "tasks/get", true},
		{Rev20251125, "tasks/result", true},
		{Rev20251125, "tasks/list", true},
		{Rev20251125, "tasks/cancel", true},
		{Rev20251125, "notifications/tasks/status", true},
		{Rev20251125, "logging/setLevel", true},
		{Rev20260728, "server/discover", true},
		{Rev20260728, "subscriptions/listen", true},
		{Rev20260728, "tools/call", true},
		{Rev20260728, "initialize", false},
		{Rev20260728, "notifications/initialized", false},
		{Rev20260728, "ping", false},
		{Rev20260728, "logging/setLevel", false},
		{Rev20260728, "resources/subscribe", false},
		{Rev20260728, "tasks/get", false},
		{Rev20251125, "Tools/Call", false},
		{Rev20251125, "", false},
		{"2025-03-26", "tools/call", false},
	} {
		t.Run(string(tc.rev)+" "+tc.method, func(t *testing.T) {
			if got := KnownMethod(tc.rev, tc.method); got != tc.want {
				t.Errorf("KnownMethod(%q, %q) = %v; want %v", tc.rev, tc.method, got, tc.want)
			}
		})
	}
}

func TestEveryRevisionHasMethods(t *testing.T) {
	for _, rev := range SupportedRevisions() {
		if len(clientMethods[rev]) == 0 {
			t.Errorf("clientMethods[%q] is empty", rev)
		}
	}
}
