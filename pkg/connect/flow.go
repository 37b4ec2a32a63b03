package connect

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// pendingElicitation is the stored form of an elicitation: its binding and
// when it expires (checked by our clock as well as the store's TTL).
type pendingElicitation struct {
	Binding
	Exp int64 `json:"exp"`
}

// Stages of a browser flow: each leg has its own single-use record.
const (
	stageLogin    = "login"
	stageProvider = "provider"
	stageAPIKey   = "api_key"
)

// kindFlow names pending browser flows in the ephemeral store.
const kindFlow = "flow"

// flow is one leg of a browser flow, stored server-side (sealed, with a TTL,
// taken once) under a random id that only the browser's cookie carries.
// State is the value the leg's URL or form must echo.
type flow struct {
	Stage    string   `json:"st"`
	State    string   `json:"s"`
	Verifier string   `json:"v,omitempty"`
	Nonce    string   `json:"n,omitempty"`
	Binding  *Binding `json:"b,omitempty"` // nil: a login for the connections page
	// Elicitation is the id of the link this flow serves: it is taken (and
	// so used up) once the right user has logged in.
	Elicitation string `json:"e,omitempty"`
	Exp         int64  `json:"exp"`
}

// maxPendingFlows bounds the browser flows one replica has open at once:
// anyone can start a login at /connect/, so their number must not grow
// with an attacker's request rate.
const maxPendingFlows = 10000

// pendingSet counts this replica's open flows by id until they are taken
// or expire; a full set refuses new flows.
type pendingSet struct {
	mu  sync.Mutex
	exp map[string]time.Time
	max int
}

// add records id until exp; false when the set is full of live flows.
func (p *pendingSet) add(id string, now, exp time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.exp) >= p.max {
		for k, e := range p.exp {
			if !now.Before(e) {
				delete(p.exp, k)
			}
		}
	}
	if len(p.exp) >= p.max {
		return false
	}
	p.exp[id] = exp
	return true
}

func (p *pendingSet) remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.exp, id)
}

// putFlow stores f under a fresh id and sets the flow cookie to it.
func (h *web) putFlow(ctx context.Context, w http.ResponseWriter, f flow) error {
	id, err := randomID()
	if err != nil {
		return err
	}
	now := h.s.clock()
	ttl := h.s.cfg.ElicitationTTL.D()
	f.Exp = now.Add(ttl).Unix()
	if !h.pending.add(id, now, now.Add(ttl)) {
		return errBusy
	}
	if err := h.s.store.PutTemp(ctx, kindFlow, id, f, ttl); err != nil {
		h.pending.remove(id)
		return err
	}
	h.setCookie(w, h.flowCookie, id, ttl)
	return nil
}

// errBusy: too many open flows on this replica.
var errBusy = errors.New("connect: too many pending browser flows")

// takeFlow consumes the flow the request's cookie names and checks that it
// is the expected leg, unexpired, and that state (from the URL or form)
// matches it. Any failure is a refusal; the record is gone either way.
func (h *web) takeFlow(r *http.Request, stage, state string) (flow, *refusal) {
	c, err := r.Cookie(h.flowCookie)
	if err != nil || len(c.Value) != idLen {
		return flow{}, refuse(reasonCookieMissing, err)
	}
	h.pending.remove(c.Value)
	var f flow
	err = h.s.store.TakeTemp(r.Context(), kindFlow, c.Value, &f)
	switch {
	case errors.Is(err, credstore.ErrNotFound):
		return flow{}, refuse(reasonFlowExpired, err)
	case err != nil:
		return flow{}, refuse(reasonStoreUnavailable, err)
	case !h.s.clock().Before(time.Unix(f.Exp, 0)):
		return flow{}, refuse(reasonFlowExpired, nil)
	case f.Stage != stage || !equal(f.State, state):
		return flow{}, refuse(reasonStateMismatch, nil)
	}
	return f, nil
}

// equal compares secrets in constant time; empty never matches.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// idLen is the length of a random id (32 bytes, base64url).
const idLen = 43

// setCookie sets an HttpOnly, SameSite=Lax cookie on path / (Secure when the
// base URL is https, where the names carry the __Host- prefix).
func (h *web) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
}

// clearCookie deletes a cookie.
func (h *web) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
}

// cookieNames returns the flow and session cookie names for a base URL.
func cookieNames(baseURL string) (flowName, sessionName string, secure bool) {
	secure = strings.HasPrefix(baseURL, "https://")
	prefix := "mcp-authz-connect"
	if secure {
		prefix = "__Host-" + prefix
	}
	return prefix + "-flow", prefix + "-session", secure
}
