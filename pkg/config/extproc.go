package config

import (
	"time"
)

// Defaults of the response processor (ext_proc).
const (
	DefaultExtProcBodyBytes   = 4 << 20
	DefaultExtProcOutputBytes = 1 << 20
	DefaultExtProcDeadline    = 250 * time.Millisecond
)

// ExtProc bounds the response processor, the ext_proc server that
// inspects MCP responses (filters lists, verifies live manifests, checks
// tool output) on the same gRPC listener as Check.
type ExtProc struct {
	// MaxBodyBytes bounds a buffered application/json response and one SSE
	// event; a larger one becomes a JSON-RPC error (response_too_large).
	// Keep Envoy's per_connection_buffer_limit_bytes at or below it.
	MaxBodyBytes int `json:"max_body_bytes"`
	// MaxOutputBytes bounds a tools/call result of a tool whose registry
	// entry sets no max_output_bytes (output_too_large).
	MaxOutputBytes int `json:"max_output_bytes"`
	// Deadline bounds one evaluation of data.mcp.list or data.mcp.output;
	// keep it below the ext_proc filter's message_timeout.
	Deadline Duration `json:"deadline"`
}

func (c *Config) applyExtProcDefaults() {
	setInt(&c.ExtProc.MaxBodyBytes, DefaultExtProcBodyBytes)
	setInt(&c.ExtProc.MaxOutputBytes, DefaultExtProcOutputBytes)
	setDur(&c.ExtProc.Deadline, DefaultExtProcDeadline)
}

func (c *Config) validateExtProc(add addFunc) {
	e := c.ExtProc
	if e.MaxBodyBytes <= 0 || e.MaxBodyBytes > 64<<20 {
		add("extproc.max_body_bytes", "must be in [1, 64 MiB], got %d", e.MaxBodyBytes)
	}
	if e.MaxOutputBytes <= 0 || e.MaxOutputBytes > e.MaxBodyBytes {
		add("extproc.max_output_bytes", "must be in [1, extproc.max_body_bytes], got %d", e.MaxOutputBytes)
	}
	if d := e.Deadline.D(); d <= 0 || d > 10*time.Second {
		add("extproc.deadline", "must be in (0, 10s], got %s", d)
	}
}
