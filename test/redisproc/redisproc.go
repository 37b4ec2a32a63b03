// Package redisproc starts a real redis-server (the distribution's package) on
// a loopback port for tests and stops it by its PID. A test that needs Redis
// fails with a clear message when the binary is missing: never a silent skip.
package redisproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// attempts bounds the ports tried: a port found free can be taken by
	// another test (or test package) before redis-server binds it.
	attempts = 5
	// readyBound bounds the wait for one redis-server to answer: it only
	// turns a hang into a failure, on machines of any speed.
	readyBound = 30 * time.Second
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
// The server answering at addr is checked to be the one started here (by
// its process id), so two tests never share a server by accident.
func StartStoppable(t testing.TB) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found on PATH (install the Debian package redis-server; .ci/run does): %v", err)
	}
	var errs []error
	for range attempts {
		addr, stop, err := start(t, bin)
		if err == nil {
			t.Cleanup(stop)
			return addr, stop
		}
		errs = append(errs, err)
	}
	t.Fatalf("redis-server did not start on a free loopback port: %v", errors.Join(errs...))
	return "", nil
}

// start runs one redis-server on a port that was free a moment ago and
// waits until it answers as itself.
func start(t testing.TB, bin string) (string, func(), error) {
	port := freePort(t)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitOwned(addr, cmd.Process.Pid, exited); err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
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

// waitOwned asks addr for its INFO until it answers (bounded by
// readyBound) and checks the answer comes from process pid. It gives up
// early when that process exits (it could not bind the port).
func waitOwned(addr string, pid int, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(readyBound)
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server for %s exited (the port was taken?)", addr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), readyBound)
		info, err := c.Info(ctx, "server").Result()
		cancel()
		if err == nil {
			if got := processID(info); got != pid {
				return fmt.Errorf("%s is answered by redis-server process %d, not %d", addr, got, pid)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s never answered: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processID reads process_id from an INFO server answer (0 if absent).
func processID(info string) int {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "process_id:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
