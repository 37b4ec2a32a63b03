package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// drainRun is an app driven through RunSignals with an injected signal
// channel, as `mcp-authz serve` drives it with SIGTERM and SIGINT.
type drainRun struct {
	app    *app.App
	sigs   chan os.Signal
	done   chan error
	conn   *grpc.ClientConn
	client authv3.AuthorizationClient
	health healthpb.HealthClient
}

// startDrainRun builds the app from yaml and runs it until signalled; the
// test must end it (two signals, or one and the lame duck's end).
func startDrainRun(t *testing.T, yaml string) *drainRun {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	r := &drainRun{app: a, sigs: make(chan os.Signal, 2), done: make(chan error, 1)}
	go func() { r.done <- a.RunSignals(context.Background(), r.sigs) }()
	r.conn, err = grpc.NewClient(a.Addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.conn.Close() })
	r.client, r.health = authv3.NewAuthorizationClient(r.conn), healthpb.NewHealthClient(r.conn)
	r.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	return r
}

// waitHealth polls gRPC health until it reports want (bounded:
// eventualBound) and returns how long that took (logged, never asserted).
func (r *drainRun) waitHealth(t *testing.T, want healthpb.HealthCheckResponse_ServingStatus) time.Duration {
	t.Helper()
	start := time.Now()
	for deadline := start.Add(eventualBound); ; time.Sleep(5 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), checkBound)
		resp, err := r.health.Check(ctx, &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
		cancel()
		if err == nil && resp.GetStatus() == want {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("gRPC health = %v, %v; want %v", resp.GetStatus(), err, want)
		}
	}
}

// wait returns RunSignals' result; it fails the test if RunSignals has
// not returned within bound (a hang, not a speed measurement).
func (r *drainRun) wait(t *testing.T, bound time.Duration) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("RunSignals = %v; want nil", err)
		}
	case <-time.After(bound):
		t.Fatalf("RunSignals did not return within %s of the shutdown", bound)
	}
}

// Phases of the drain test's load.
const (
	phaseServing int32 = iota
	phaseLameDuck
	phaseStopping
)

// drainLoad sends Checks from a few goroutines until stopped, at most
// maxPerWorker each, and records which failed while the lame duck ran.
type drainLoad struct {
	phase        atomic.Int32
	stop         atomic.Bool
	answeredLame atomic.Int64
	failedLame   atomic.Int64
	wg           sync.WaitGroup
}

func (l *drainLoad) run(client authv3.AuthorizationClient, req *authv3.CheckRequest, workers, maxPerWorker int) {
	for range workers {
		l.wg.Go(func() {
			for i := 0; i < maxPerWorker && !l.stop.Load(); i++ {
				// checkBound: a slow answer on a loaded machine is still an
				// answer; only an error counts against the lame duck.
				ctx, cancel := context.WithTimeout(context.Background(), checkBound)
				_, err := client.Check(ctx, req)
				cancel()
				// Judged at completion: a Check finished while the lame duck
				// still ran must have been answered.
				if l.phase.Load() == phaseLameDuck {
					if err != nil {
						l.failedLame.Add(1)
					} else {
						l.answeredLame.Add(1)
					}
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

const drainConfig = `
listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
resource: https://mcp.example.test/mcp
issuers:
  - issuer: https://auth.example.test
    jwks_file: testdata/keys/jwks.json
policy:
  deadline: 5s
shutdown:
  timeout: 5s
`

// TestResilienceLameDuckDrain: SIGTERM under a bounded loopback load. gRPC
// health and /readyz go NOT_SERVING while every Check still gets a
// CheckResponse for the lame-duck period; a second signal (SIGINT) ends the
// lame duck, the listener stops and RunSignals returns within the drain
// bound. The lame duck (1m) is ended by the signal, so nothing here depends
// on the machine's speed.
func TestResilienceLameDuckDrain(t *testing.T) {
	r := startDrainRun(t, drainConfig+"  lame_duck: 1m\n")
	req := mcpPost{authorization: "Bearer " + mintAccess(t, nil), body: searchCallBody}.request()
	wantAllow(t, "before SIGTERM", mustCheck(t, r.client, req))
	l := &drainLoad{}
	l.run(r.client, req, 4, 5000)
	defer func() { l.stop.Store(true); l.wg.Wait() }()

	l.phase.Store(phaseLameDuck)
	r.sigs <- syscall.SIGTERM
	took := r.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING)
	t.Logf("gRPC health NOT_SERVING %s after SIGTERM", took)
	res, err := http.Get("http://" + r.app.Addr("admin") + "/readyz")
	if err != nil {
		t.Fatalf("/readyz during the lame duck: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the lame duck = %d; want 503", res.StatusCode)
	}
	// At least one answer during the lame duck is a sync point (the load
	// ran); up to 200 are welcome but only waited for briefly.
	waitFor(t, "a Check answered during the lame duck", func() bool { return l.answeredLame.Load() > 0 })
	for i := 0; l.answeredLame.Load() < 200 && i < 2000; i++ { // bounded: at most ~10s, never asserted
		time.Sleep(5 * time.Millisecond)
	}
	wantAllow(t, "a new Check during the lame duck", mustCheck(t, r.client, req))

	l.phase.Store(phaseStopping)
	r.sigs <- syscall.SIGINT // the second signal skips the rest of the lame duck
	r.wait(t, 30*time.Second)
	l.stop.Store(true)
	l.wg.Wait()
	if n := l.failedLame.Load(); n != 0 {
		t.Errorf("%d Checks failed during the lame duck (%d answered); want 0", n, l.answeredLame.Load())
	}
	if l.answeredLame.Load() == 0 {
		t.Error("no Check was answered during the lame duck; the load did not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := r.client.Check(ctx, req); err == nil {
		t.Error("Check after the drain = a response; want the listener closed")
	}
}

// TestResilienceLameDuckEnds: without a second signal the lame duck ends
// by itself and the app stops.
func TestResilienceLameDuckEnds(t *testing.T) {
	r := startDrainRun(t, drainConfig+"  lame_duck: 100ms\n")
	r.sigs <- syscall.SIGTERM
	r.wait(t, 30*time.Second)
}
