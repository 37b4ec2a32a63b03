package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
)

// devRequest prints a CheckRequest shaped as Envoy's ext_authz filter sends
// it (gRPC, with_request_body) for one MCP JSON-RPC message.
func devRequest(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev request", flag.ContinueOnError)
	fs.SetOutput(stderr)
	token := fs.String("token", "", "access token (from `mcp-authz dev token`)")
	method := fs.String("method", "tools/call", "JSON-RPC method")
	tool := fs.String("tool", "", "tool name (tools/call)")
	argsJSON := fs.String("args", "{}", "tool arguments as a JSON object")
	version := fs.String("protocol-version", "2025-11-25", "MCP-Protocol-Version header")
	host := fs.String("host", "mcp.example.test", ":authority")
	path := fs.String("path", "/mcp", ":path")
	if err := fs.Parse(args); err != nil {
		return exitCode(2)
	}
	body, err := devBody(*method, *tool, *argsJSON)
	if err != nil {
		return err
	}
	headers := map[string]string{
		":authority": *host, ":method": "POST", ":path": *path, ":scheme": "https",
		"accept": "application/json, text/event-stream", "content-type": "application/json",
		"content-length": strconv.Itoa(len(body)), "mcp-protocol-version": *version,
		"x-envoy-auth-partial-body": "false",
	}
	if *token != "" {
		headers["authorization"] = "Bearer " + *token
	}
	req := map[string]any{"attributes": map[string]any{"request": map[string]any{"http": map[string]any{
		"method": "POST", "path": *path, "host": *host, "scheme": "https", "protocol": "HTTP/1.1",
		"headers": headers, "body": string(body), "size": strconv.Itoa(len(body)),
	}}}}
	out, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}

func devBody(method, tool, argsJSON string) ([]byte, error) {
	msg := map[string]any{"jsonrpc": "2.0", "id": 1, "method": method}
	if method == "tools/call" {
		if tool == "" {
			return nil, errors.New("--tool is required for tools/call")
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(argsJSON), &a); err != nil {
			return nil, fmt.Errorf("--args: %w", err)
		}
		msg["params"] = map[string]any{"name": tool, "arguments": a}
	}
	return json.Marshal(msg)
}
