package bundlesrc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// persistName is the persisted bundle's file name inside persist_dir.
const persistName = "bundle.tar.gz"

// maxPersistBytes bounds the persisted bundle.
const maxPersistBytes = 256 << 20

var errNoPersisted = errors.New("no persisted bundle")

// persist writes raw atomically (a temporary file renamed over the old
// one), so a crash never leaves half a bundle to serve at the next start.
func persist(dir string, raw io.Reader) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".bundle-*.tmp")
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(raw, maxPersistBytes+1))
	if err == nil && n > maxPersistBytes {
		err = fmt.Errorf("bundle larger than %d bytes", maxPersistBytes)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, persistName))
	}
	if err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	return nil
}

// readPersisted returns the persisted bundle's bytes.
func readPersisted(dir string) ([]byte, error) {
	f, err := os.Open(filepath.Join(dir, persistName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoPersisted
	}
	if err != nil {
		return nil, fmt.Errorf("persisted bundle: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPersistBytes+1))
	if err != nil {
		return nil, fmt.Errorf("persisted bundle: %w", err)
	}
	if len(b) > maxPersistBytes {
		return nil, fmt.Errorf("persisted bundle larger than %d bytes", maxPersistBytes)
	}
	return b, nil
}
