package credstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned when no credential is stored for a key.
var ErrNotFound = errors.New("credstore: no credential")

// maxField bounds each key component; identities longer than this are refused.
const maxField = 1024

// Key identifies a credential: the user (issuer and subject of their verified
// token) and the provider. Never a session: a user's credential follows them
// across clients and sessions and no session id can reach another user's.
type Key struct {
	Issuer   string
	Subject  string
	Provider string
}

func (k Key) validate() error {
	for name, v := range map[string]string{"issuer": k.Issuer, "subject": k.Subject, "provider": k.Provider} {
		if v == "" || len(v) > maxField {
			return fmt.Errorf("credstore: key %s empty or longer than %d bytes", name, maxField)
		}
	}
	return nil
}

// Credential is one user's credential for one provider. The tokens are secrets:
// they leave the store only to be injected into the upstream request.
type Credential struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	// Stale marks a credential the provider refused (a failed refresh or an
	// upstream 401): it is not usable and the next call elicits again.
	Stale bool `json:"stale,omitempty"`
	// Reissued marks an access token obtained by refreshing a stale one: if
	// the upstream refuses it too, refreshing again would not help, so the
	// refresh token is dropped and the next call elicits.
	Reissued bool `json:"reissued,omitempty"`
}

// Summary describes a stored credential without its secrets: what a user's
// connection list and the policy input may see.
type Summary struct {
	Provider  string    `json:"provider"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	Stale     bool      `json:"stale,omitempty"`
}

// Summarize drops the secrets.
func (c Credential) Summarize(provider string) Summary {
	s := Summary{Provider: provider, Scopes: c.Scopes, ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt, Stale: c.Stale}
	if s.Scopes == nil {
		s.Scopes = []string{}
	}
	return s
}

// Backend holds sealed records by id. Implementations: Bolt (one file) and Redis.
type Backend interface {
	Get(ctx context.Context, id string) ([]byte, error)
	Put(ctx context.Context, id, owner string, blob []byte) error
	Delete(ctx context.Context, id, owner string) error
	// List returns the ids of one owner's records.
	List(ctx context.Context, owner string) ([]string, error)
	Close() error
}

// Store seals credentials into a backend.
type Store struct {
	backend Backend
	keys    *Keyring
}

// New returns a store over a backend sealing with keys.
func New(b Backend, keys *Keyring) *Store { return &Store{backend: b, keys: keys} }

// Keys returns the store's keyring (for derived keys).
func (s *Store) Keys() *Keyring { return s.keys }

// Close closes the backend.
func (s *Store) Close() error { return s.backend.Close() }

var enc = base64.RawURLEncoding

// ownerID names a user's records; recordID one record. Components are base64url
// so the "." separator cannot occur inside them.
func ownerID(issuer, subject string) string {
	return enc.EncodeToString([]byte(issuer)) + "." + enc.EncodeToString([]byte(subject))
}

func recordID(k Key) string {
	return ownerID(k.Issuer, k.Subject) + "." + enc.EncodeToString([]byte(k.Provider))
}

func providerOf(id string) (string, bool) {
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return "", false
	}
	p, err := enc.DecodeString(id[i+1:])
	return string(p), err == nil
}

// Put seals and stores a credential, replacing any previous one for the key.
func (s *Store) Put(ctx context.Context, k Key, c Credential) error {
	if err := k.validate(); err != nil {
		return err
	}
	pt, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("credstore: encode: %w", err)
	}
	env, err := s.keys.seal(pt, additionalData(k))
	if err != nil {
		return err
	}
	blob, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("credstore: encode envelope: %w", err)
	}
	if err := s.backend.Put(ctx, recordID(k), ownerID(k.Issuer, k.Subject), blob); err != nil {
		return fmt.Errorf("credstore: put: %w", err)
	}
	return nil
}

// Get opens the credential stored for a key; ErrNotFound when there is none.
func (s *Store) Get(ctx context.Context, k Key) (Credential, error) {
	if err := k.validate(); err != nil {
		return Credential{}, err
	}
	blob, err := s.backend.Get(ctx, recordID(k))
	if err != nil {
		return Credential{}, err
	}
	var env envelope
	if err := json.Unmarshal(blob, &env); err != nil {
		return Credential{}, fmt.Errorf("credstore: record malformed: %w", err)
	}
	pt, err := s.keys.open(env, additionalData(k))
	if err != nil {
		return Credential{}, err
	}
	var c Credential
	if err := json.Unmarshal(pt, &c); err != nil {
		return Credential{}, fmt.Errorf("credstore: credential malformed: %w", err)
	}
	return c, nil
}

// List summarizes one user's credentials (no secrets), skipping records that
// no longer open (for example sealed with a retired key).
func (s *Store) List(ctx context.Context, issuer, subject string) ([]Summary, error) {
	ids, err := s.backend.List(ctx, ownerID(issuer, subject))
	if err != nil {
		return nil, fmt.Errorf("credstore: list: %w", err)
	}
	out := make([]Summary, 0, len(ids))
	for _, id := range ids {
		p, ok := providerOf(id)
		if !ok {
			continue
		}
		c, err := s.Get(ctx, Key{Issuer: issuer, Subject: subject, Provider: p})
		if err != nil {
			continue
		}
		out = append(out, c.Summarize(p))
	}
	return out, nil
}

// Revoke deletes one credential; deleting a missing one is not an error.
func (s *Store) Revoke(ctx context.Context, k Key) error {
	if err := k.validate(); err != nil {
		return err
	}
	if err := s.backend.Delete(ctx, recordID(k), ownerID(k.Issuer, k.Subject)); err != nil {
		return fmt.Errorf("credstore: revoke: %w", err)
	}
	return nil
}

// RevokeSubject deletes every credential of a user (the operators' revocation)
// and reports how many it removed.
func (s *Store) RevokeSubject(ctx context.Context, issuer, subject string) (int, error) {
	owner := ownerID(issuer, subject)
	ids, err := s.backend.List(ctx, owner)
	if err != nil {
		return 0, fmt.Errorf("credstore: revoke subject: %w", err)
	}
	for i, id := range ids {
		if err := s.backend.Delete(ctx, id, owner); err != nil {
			return i, fmt.Errorf("credstore: revoke subject: %w", err)
		}
	}
	return len(ids), nil
}

// MarkStale flags a credential the provider refused so the next call elicits
// again; a missing credential is left missing.
func (s *Store) MarkStale(ctx context.Context, k Key) error {
	c, err := s.Get(ctx, k)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Stale = true
	return s.Put(ctx, k, c)
}
