package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mcp-authz/mcp-authz/pkg/app"
	"github.com/mcp-authz/mcp-authz/pkg/config"
	"github.com/mcp-authz/mcp-authz/pkg/policy"
)

// maxRequestFile bounds the CheckRequest file read by check.
const maxRequestFile = 16 << 20

func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "CheckRequest as protojson ('-' for stdin)")
	cfgPath := fs.String("config", "examples/dev/config.yaml", "configuration file (offline mode)")
	explain := fs.Bool("explain", false, "print the policy rules behind the decision (offline mode)")
	addr := fs.String("addr", "", "send the request to a running server at host:port instead of deciding offline")
	asJSON := fs.Bool("json", false, "print the whole CheckResponse as protojson")
	if err := fs.Parse(args); err != nil || *file == "" {
		fs.Usage()
		return exitCode(2)
	}
	if *addr != "" && *explain {
		fmt.Fprintln(stderr, "check: --explain evaluates offline; it cannot explain a remote server's decision (drop --addr)")
		return exitCode(2)
	}
	req, err := readCheckRequest(*file)
	if err != nil {
		return err
	}
	var (
		resp  *authv3.CheckResponse
		lines []string
	)
	if *addr != "" {
		resp, err = checkRemote(ctx, *addr, req)
	} else {
		resp, lines, err = checkOffline(ctx, *cfgPath, req, *explain)
	}
	if err != nil {
		return err
	}
	printResponse(stdout, resp, *asJSON)
	if *explain {
		fmt.Fprintln(stdout, "explanation:")
		for _, l := range lines {
			fmt.Fprintln(stdout, "  "+l)
		}
	}
	return nil
}

func readCheckRequest(path string) (*authv3.CheckRequest, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxRequestFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRequestFile {
		return nil, errors.New("request file too large")
	}
	req := &authv3.CheckRequest{}
	if err := protojson.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%s: not a CheckRequest: %w", path, err)
	}
	return req, nil
}

// explainer is a Decider that keeps the engine's explanation.
type explainer struct {
	e     *policy.Engine
	lines []string
}

func (x *explainer) Decide(ctx context.Context, in *policy.Input) (policy.Decision, error) {
	d, lines, err := x.e.Explain(ctx, in)
	x.lines = lines
	return d, err
}

func checkOffline(ctx context.Context, cfgPath string, req *authv3.CheckRequest, explain bool) (*authv3.CheckResponse, []string, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	comp, err := app.Build(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	defer comp.Close()
	if !explain {
		resp, err := comp.Server.Check(ctx, req)
		return resp, nil, err
	}
	x := &explainer{e: comp.Engine}
	resp, err := comp.NewServer(x).Check(ctx, req)
	if x.lines == nil {
		x.lines = []string{"(the request was decided before the policy ran: see the reason)"}
	}
	return resp, x.lines, err
}

func checkRemote(ctx context.Context, addr string, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return authv3.NewAuthorizationClient(conn).Check(ctx, req)
}

func printResponse(w io.Writer, resp *authv3.CheckResponse, asJSON bool) {
	if asJSON {
		fmt.Fprintln(w, protojson.Format(resp))
		return
	}
	if ok := resp.GetOkResponse(); resp.GetStatus().GetCode() == 0 {
		fmt.Fprintln(w, "decision: allow")
		for _, h := range ok.GetHeaders() {
			fmt.Fprintf(w, "upstream header: %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		for _, h := range ok.GetHeadersToRemove() {
			fmt.Fprintf(w, "upstream header removed: %s\n", h)
		}
		return
	}
	d := resp.GetDeniedResponse()
	fmt.Fprintln(w, "decision: deny")
	fmt.Fprintf(w, "status: %d\n", d.GetStatus().GetCode())
	for _, h := range d.GetHeaders() {
		fmt.Fprintf(w, "header: %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
	}
	if d.GetBody() != "" {
		fmt.Fprintf(w, "body: %s\n", d.GetBody())
	}
}
