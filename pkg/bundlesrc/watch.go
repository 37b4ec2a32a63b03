package bundlesrc

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// DefaultWatchInterval is how often a path bundle is checked for changes:
// well within the 5 s an operator may expect a saved file to take effect.
const DefaultWatchInterval = time.Second

// WatchConfig configures a path source.
type WatchConfig struct {
	// Path is a bundle file or directory.
	Path string
	// Load reads the bundle at Path (verifying it when configured).
	Load func(path string) (*bundle.Bundle, error)
	// Interval between checks (default DefaultWatchInterval).
	Interval time.Duration
	// Logger receives activations and refusals.
	Logger *slog.Logger
	// Clock is the time source (default time.Now).
	Clock func() time.Time
}

// Watch reloads a bundle file or directory when its files change. It
// compares names, sizes and modification times, then loads and activates;
// a refused bundle is not retried until the files change again.
type Watch struct {
	cfg   WatchConfig
	eng   Activator
	track *tracker
	last  string
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// NewWatch returns a watch over cfg.Path; the bundle loaded at start is
// its baseline (Activated records it).
func NewWatch(cfg WatchConfig, eng Activator) *Watch {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultWatchInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watch{cfg: cfg, eng: eng, track: newTracker("path", cfg.Clock), stop: make(chan struct{})}
	w.last, _ = fingerprint(cfg.Path)
	return w
}

// Activated records the revision activated at start.
func (w *Watch) Activated(rev string) { w.track.activated(rev) }

// Start checks the path every interval until Stop.
func (w *Watch) Start(ctx context.Context) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(w.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				w.Check(ctx)
			}
		}
	}()
}

// Stop ends the watch and waits for it.
func (w *Watch) Stop(context.Context) {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// Status reports the active revision and the last error.
func (w *Watch) Status() Status { return w.track.status() }

// Check reloads the bundle once if its files changed since the last check.
func (w *Watch) Check(ctx context.Context) {
	fp, err := fingerprint(w.cfg.Path)
	if err != nil {
		if fp != w.last {
			w.refuse(err)
		}
		w.last = fp
		return
	}
	if fp == w.last {
		return
	}
	w.last = fp
	b, err := w.cfg.Load(w.cfg.Path)
	if err == nil {
		err = w.eng.Activate(ctx, b)
	}
	if err != nil {
		w.refuse(err)
		return
	}
	w.track.activated(b.Manifest.Revision)
	w.cfg.Logger.Info("bundle activated", "source", "path", "revision", b.Manifest.Revision)
}

func (w *Watch) refuse(err error) {
	w.track.refused(err)
	w.cfg.Logger.Warn("bundle refused; the last good revision keeps serving", "source", "path",
		"active", w.eng.Revision(), "error", err.Error())
}

// maxWatchedFiles bounds the files a directory bundle may hold.
const maxWatchedFiles = 10000

// fingerprint describes the files at path: name, size and mtime of each.
// On an error it returns the error's text, so a lasting error is reported
// once.
func fingerprint(path string) (string, error) {
	var b strings.Builder
	n := 0
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n++; n > maxWatchedFiles {
			return fmt.Errorf("more than %d files", maxWatchedFiles)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", p, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return "error: " + err.Error(), fmt.Errorf("bundle path: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return "error: " + err.Error(), fmt.Errorf("bundle path: %w", err)
	}
	return b.String(), nil
}
