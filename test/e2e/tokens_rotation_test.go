package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// replaceFile writes b to path atomically (rename), as a secret mount does.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// rotationVerifier is the upstream side: it verifies every minted token
// with a JWKS it refreshes only when told (its cache's max-age passed),
// never on an unknown kid, so a key used before it was published fails.
type rotationVerifier struct {
	set      atomic.Pointer[jwk.Set]
	failures atomic.Int64
	kids     sync.Map // kid → count
}

func (v *rotationVerifier) refresh(t *testing.T, publicAddr string) {
	s := fetchJWKS(t, publicAddr)
	v.set.Store(&s)
}

func (v *rotationVerifier) verify(t *testing.T, tok string) {
	m, err := verifyMinted(t, *v.set.Load(), tok, e2eResource, time.Now())
	if err != nil {
		v.failures.Add(1)
		return
	}
	n, _ := v.kids.LoadOrStore(m.kid, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

// TestMintedTokenKeyRotation rotates the signing key under bounded load
// (workers × requests, no time bound on correctness): publish the new key
// next to the signing one, let the upstream's JWKS cache refresh, then sign
// with it. The upstream sees zero verification failures, and tokens signed
// with both the old and the new key. Each worker ends with a few Checks it
// sends only once the rotation is done, so the new key is seen however
// the scheduler ran the workers; the periodic key reload is pushed out of
// the test's way (24h) so only the test's reload calls change the keys.
func TestMintedTokenKeyRotation(t *testing.T) {
	dir := t.TempDir()
	cur, next := writeSigningKey(t, dir, "current.pem", "ES256"), writeSigningKey(t, dir, "next.pem", "ES256")
	oldKey, _ := os.ReadFile(cur)
	newKey, _ := os.ReadFile(writeSigningKey(t, dir, "new.pem", "ES256"))
	cfg := strings.Replace(fmt.Sprintf(mintConfig, cur+", "+next, "ES256"), "  algorithm: ES256\n", "  algorithm: ES256\n  key_reload: 24h\n", 1)
	a, client := startAppYAML(t, cfg)
	v := &rotationVerifier{}
	v.refresh(t, a.Addr("public"))

	const workers, perWorker, afterRotation = 4, 150, 5
	var done atomic.Int64
	var wg sync.WaitGroup
	rotated := make(chan struct{})
	var rotateOnce sync.Once
	endRotation := func() { rotateOnce.Do(func() { close(rotated) }) }
	defer func() { endRotation(); wg.Wait() }() // a failed step must not strand the workers
	for w := range workers {
		tokens := make([]string, 3)
		for i := range tokens {
			tokens[i] = mintAccess(t, map[string]any{"sub": "user-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)})
		}
		check := func(i int) {
			req := mcpPost{authorization: "Bearer " + tokens[i%len(tokens)], body: searchCallBody}.request()
			resp, err := client.Check(t.Context(), req)
			if err != nil || resp.GetOkResponse() == nil {
				v.failures.Add(1)
			} else {
				v.verify(t, bearerSet(resp.GetOkResponse()))
			}
			done.Add(1)
		}
		wg.Go(func() {
			for i := range perWorker {
				check(i)
			}
			<-rotated // these are signed with the new key: the rotation is done
			for i := range afterRotation {
				check(i)
			}
		})
	}
	waitDone := func(n int64) { // progress of the load: bounded only to turn a hang into a failure
		for deadline := time.Now().Add(4 * eventualBound); done.Load() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d Checks answered after %s", done.Load(), n, 4*eventualBound)
			}
		}
	}
	waitDone(100)
	replaceFile(t, next, newKey) // 1. publish the new key (the current one still signs)
	reload(t, a.SigningKeys())
	waitDone(200)
	v.refresh(t, a.Addr("public")) // 2. the upstream's JWKS cache expires (max-age)
	waitDone(300)
	replaceFile(t, next, oldKey) // 3. sign with the new key, keep the old one published
	replaceFile(t, cur, newKey)
	reload(t, a.SigningKeys())
	endRotation()
	wg.Wait()

	if f := v.failures.Load(); f != 0 {
		t.Errorf("%d of %d requests failed verification at the upstream; want 0", f, workers*(perWorker+afterRotation))
	}
	if n := countKids(&v.kids); n != 2 {
		t.Errorf("upstream saw tokens of %d signing keys; want 2 (before and after rotation)", n)
	}
}

// reload re-reads the key files now instead of at the next key_reload tick.
func reload(t *testing.T, k interface{ Reload() (bool, error) }) {
	t.Helper()
	if changed, err := k.Reload(); err != nil || !changed {
		t.Fatalf("Reload() = %v, %v; want a changed key set", changed, err)
	}
}

func countKids(m *sync.Map) int {
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	return n
}

// bearerSet returns the token an OkHttpResponse sets in authorization.
func bearerSet(ok *authv3.OkHttpResponse) string {
	for _, h := range ok.GetHeaders() {
		if h.GetHeader().GetKey() == "authorization" {
			v := h.GetHeader().GetValue()
			if len(v) > 7 {
				return v[7:]
			}
		}
	}
	return ""
}
