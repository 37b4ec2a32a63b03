package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects the server's log lines from its goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitBound bounds a wait for serve to get somewhere (compiling the bundle
// under the race detector on a busy machine takes seconds): it only turns
// a hang into a failure.
const waitBound = 60 * time.Second

// servingAdmin waits for the "mcp-authz serving" line and returns the admin
// address it names (bounded: waitBound).
func servingAdmin(t *testing.T, logs *lockedBuffer) string {
	t.Helper()
	for deadline := time.Now().Add(waitBound); time.Now().Before(deadline); {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct {
				Msg   string `json:"msg"`
				Admin string `json:"admin"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "mcp-authz serving" {
				return rec.Admin
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("serve never logged that it was serving:\n%s", logs.String())
	return ""
}

func readyzCode(t *testing.T, admin string) int {
	t.Helper()
	res, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestServeSIGTERMThenSIGINT drives `mcp-authz serve` with real signals to
// this process: SIGTERM turns /readyz to 503 while the process keeps
// serving (the lame duck, 1m here), and SIGINT ends the lame duck so serve
// returns. serve registers for the signals before it starts serving, so a
// signal sent after the serving line never reaches Go's default handler.
func TestServeSIGTERMThenSIGINT(t *testing.T) {
	base, err := os.ReadFile(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, append(base, []byte("shutdown:\n  lame_duck: 1m\n  timeout: 5s\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"serve", "--config", cfg}, &bytes.Buffer{}, logs) }()
	admin := servingAdmin(t, logs)
	if got := readyzCode(t, admin); got != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM = %d; want 200", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	got := readyzCode(t, admin)
	for deadline := time.Now().Add(waitBound); got != http.StatusServiceUnavailable && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		got = readyzCode(t, admin)
	}
	if got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after SIGTERM = %d; want 503 (draining)", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit code = %d; want 0\n%s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30s after the second signal (lame duck 1m not skipped)\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "lame duck skipped: second signal") {
		t.Errorf("logs lack the skipped lame duck:\n%s", logs.String())
	}
}
