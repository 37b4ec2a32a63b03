package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// eventualBound bounds the wait for lumberjack's background goroutine
// (removing and compressing backups): generous, as CI machines vary.
const eventualBound = 30 * time.Second

// TestFileSinkCompress: a rotated file is gzip-compressed only when
// compress is on. Rotation is driven by lumberjack's Rotate; the backups
// are handled by lumberjack's own goroutine, so the test waits for what
// that goroutine does, never for a time. With compress off, ten old
// backups are planted first: lumberjack removes the oldest (MaxBackups) in
// the same pass that would compress, which tells the test the pass ran.
func TestFileSinkCompress(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "decisions.log")
			oldest := ""
			if !compress {
				oldest = plantBackups(t, dir, FileMaxBackups)
			}
			s := NewFileSink(path, FileOptions{Compress: compress})
			defer s.Close()
			lj := s.closer.(*lumberjack.Logger)
			if lj.Compress != compress {
				t.Fatalf("NewFileSink(compress %v) built a lumberjack.Logger with Compress %v", compress, lj.Compress)
			}
			first := writeRecord(t, s, "first")
			if err := lj.Rotate(); err != nil {
				t.Fatal(err)
			}
			writeRecord(t, s, "second")
			if compress {
				checkCompressed(t, dir, first)
			} else {
				waitFor(t, "lumberjack to remove the oldest backup", func() bool { return !exists(oldest) })
				checkPlain(t, dir, first)
			}
			if live, _ := os.ReadFile(path); !strings.Contains(string(live), `"second"`) || strings.Contains(string(live), `"first"`) {
				t.Errorf("live file %q; want the second record only", live)
			}
		})
	}
}

// plantBackups writes n backups dated 2001 and returns the oldest's path.
func plantBackups(t *testing.T, dir string, n int) string {
	t.Helper()
	var oldest string
	for i := range n {
		ts := time.Date(2001, 1, 1, 0, 0, i, 0, time.UTC).Format("2006-01-02T15-04-05.000")
		p := filepath.Join(dir, "decisions-"+ts+".log")
		if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			oldest = p
		}
	}
	return oldest
}

// writeRecord writes one record with reason and returns its line.
func writeRecord(t *testing.T, s *LineSink, reason string) []byte {
	t.Helper()
	r := &mcpauthzv1.DecisionRecord{Reason: reason}
	if err := s.Write(context.Background(), []*mcpauthzv1.DecisionRecord{r}); err != nil {
		t.Fatal(err)
	}
	line, err := MarshalLine(r)
	if err != nil {
		t.Fatal(err)
	}
	return append(line, '\n')
}

// backupOf is the backup lumberjack rotated today (not a planted one).
func backupOf(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "decisions-2*.log"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m {
		if !strings.Contains(filepath.Base(p), "-2001-") {
			out = append(out, p)
		}
	}
	return out
}

// checkCompressed waits for the rotated file to be replaced by its gzip
// (lumberjack removes the plain file once the .gz is complete) and checks
// the .gz holds the first line.
func checkCompressed(t *testing.T, dir string, first []byte) {
	t.Helper()
	waitFor(t, "the rotated file to be gzip-compressed", func() bool {
		return len(backupOf(t, dir, ".gz")) == 1 && len(backupOf(t, dir, "")) == 0
	})
	f, err := os.Open(backupOf(t, dir, ".gz")[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("rotated backup is not gzip: %v", err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, first) {
		t.Errorf("gunzipped backup = %q (%v); want %q", got, err, first)
	}
}

// checkPlain checks the rotated file stayed as written, with no .gz.
func checkPlain(t *testing.T, dir string, first []byte) {
	t.Helper()
	if gz, _ := filepath.Glob(filepath.Join(dir, "*.gz")); len(gz) != 0 {
		t.Errorf("compress off but backups were compressed: %v", gz)
	}
	plain := backupOf(t, dir, "")
	if len(plain) != 1 {
		t.Fatalf("rotated backups %v; want one", plain)
	}
	if got, _ := os.ReadFile(plain[0]); !bytes.Equal(got, first) {
		t.Errorf("rotated backup = %q; want %q", got, first)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// waitFor polls cond until it holds or eventualBound passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventualBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", eventualBound, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
