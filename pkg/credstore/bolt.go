package credstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltFile is the database file name under state_dir.
const BoltFile = "credentials.db"

var boltBucket = []byte("credentials")

// Bolt is the embedded single-file backend: no setup, one replica. The file is
// opened exclusively (a second process waits at most a second, then fails).
type Bolt struct {
	db *bolt.DB
	// Clock is the time source of ephemeral expiry (nil: time.Now).
	Clock func() time.Time
}

func (b *Bolt) now() time.Time {
	if b.Clock != nil {
		return b.Clock()
	}
	return time.Now()
}

// OpenBolt opens (creating) stateDir/credentials.db with owner-only permissions.
func OpenBolt(stateDir string) (*Bolt, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("credstore: state_dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(stateDir, BoltFile), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("credstore: open %s: %w", BoltFile, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("credstore: init %s: %w", BoltFile, err)
	}
	return &Bolt{db: db}, nil
}

// Get returns a record's blob.
func (b *Bolt) Get(_ context.Context, id string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// Put stores a record.
func (b *Bolt) Put(_ context.Context, id, _ string, blob []byte) error {
	return b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Put([]byte(id), blob) })
}

// Delete removes a record.
func (b *Bolt) Delete(_ context.Context, id, _ string) error {
	return b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Delete([]byte(id)) })
}

// List returns the ids under owner (ids are owner + "." + provider).
func (b *Bolt) List(_ context.Context, owner string) ([]string, error) {
	prefix := []byte(owner + ".")
	var ids []string
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
			ids = append(ids, string(k))
		}
		return nil
	})
	return ids, err
}

// Close closes the file.
func (b *Bolt) Close() error { return b.db.Close() }
