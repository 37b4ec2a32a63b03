// Package redisproc starts a real redis-server (the distribution's package) on
// a loopback port for tests and stops it by its PID. A test that needs Redis
// fails with a clear message when the binary is missing: never a silent skip.
package redisproc

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Start runs redis-server without persistence on 127.0.0.1 and returns its
// address; it is killed when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	addr, _ := StartStoppable(t)
	return addr
}

// StartStoppable is Start that also returns a stop function, for tests of
// what happens when Redis goes away mid-run; stopping twice is harmless.
func StartStoppable(t testing.TB) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH (install the Debian package redis-server; .ci/run does): %v", err)
	}
	port := freePort(t)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitReady(t, addr)
	return addr, stop
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady pings for at most 10 s (bounded: 200 tries).
func waitReady(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	var err error
	for range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-server on %s never answered PING: %v", addr, fmt.Errorf("%w", err))
}
