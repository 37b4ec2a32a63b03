package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	mcpauthzv1 "github.com/mcp-authz/mcp-authz/proto/mcpauthz/v1"
)

// OPA decision-log upload conventions.
const (
	// DecisionPath is the event's path: the decision query without "data.".
	DecisionPath = "mcp/authz/decision"
	// BundleName names our bundle in the event's bundles map.
	BundleName = "mcp-authz"
	// maxAttempts bounds the uploads of one batch.
	maxAttempts = 5
	// firstBackoff doubles after every failed attempt.
	firstBackoff = 200 * time.Millisecond
)

// HTTPSink uploads batches the way OPA's decision-log plugin does: a POST
// of a gzip-compressed JSON array of events (OPA's EventV1), so any
// collector that accepts OPA's decision logs accepts ours. A failed upload
// is retried with exponential backoff on network errors, 429 and 5xx.
type HTTPSink struct {
	url    string
	client *http.Client
	labels map[string]string
	sleep  func(context.Context, time.Duration) error
}

// NewHTTPSink posts to url with client (nil: a client with a 10 s timeout);
// labels identify this instance in every event (OPA's labels).
func NewHTTPSink(url string, client *http.Client, labels map[string]string) *HTTPSink {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &HTTPSink{url: url, client: client, labels: labels, sleep: sleepCtx}
}

// Write implements Sink.
func (s *HTTPSink) Write(ctx context.Context, recs []*mcpauthzv1.DecisionRecord) error {
	body, skipped, err := s.encode(recs)
	if err != nil {
		return err
	}
	if len(recs) > 0 && skipped.N == len(recs) {
		return skipped // nothing to upload
	}
	wait := firstBackoff
	for attempt := 1; ; attempt++ {
		retry, err := s.post(ctx, body)
		if err == nil {
			return skipped.orNil()
		}
		if !retry || attempt == maxAttempts {
			return fmt.Errorf("decision log: upload (attempt %d): %w", attempt, err)
		}
		if err := s.sleep(ctx, wait); err != nil {
			return fmt.Errorf("decision log: upload: %w", err)
		}
		wait *= 2
	}
}

// post sends one attempt; retry reports whether another may succeed.
func (s *HTTPSink) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := s.client.Do(req)
	if err != nil {
		return ctx.Err() == nil, errors.New("collector unreachable") // the error may quote the URL
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("collector answered %d", resp.StatusCode)
	}
	return false, fmt.Errorf("collector refused the batch with %d", resp.StatusCode)
}

// encode builds the gzip-compressed JSON array of events.
// A record that cannot be encoded is skipped and counted in skipped.
func (s *HTTPSink) encode(recs []*mcpauthzv1.DecisionRecord) (body []byte, skipped *Unencodable, err error) {
	skipped = &Unencodable{}
	events := make([]logs.EventV1, 0, len(recs))
	for _, r := range recs {
		ev, err := s.event(r)
		if err != nil {
			skipped.add(err)
			continue
		}
		events = append(events, ev)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(events); err != nil {
		return nil, nil, fmt.Errorf("decision log: encode: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, nil, fmt.Errorf("decision log: gzip: %w", err)
	}
	return buf.Bytes(), skipped, nil
}

// event maps a record onto OPA's EventV1: the record is the input, the
// decision the result, the stage latencies OPA-style timer metrics.
func (s *HTTPSink) event(r *mcpauthzv1.DecisionRecord) (logs.EventV1, error) {
	line, err := MarshalLine(r)
	if err != nil {
		return logs.EventV1{}, fmt.Errorf("decision log: marshal: %w", err)
	}
	var input any
	if err := json.Unmarshal(line, &input); err != nil {
		return logs.EventV1{}, fmt.Errorf("decision log: marshal: %w", err)
	}
	var result any = map[string]any{
		"allow": r.GetDecision() == "allow", "reason": r.GetReason(),
		"http_status": r.GetHttpStatus(), "jsonrpc_code": r.GetJsonrpcCode(),
	}
	metrics := map[string]any{"timer_check_ns": r.GetLatencyNs()}
	for stage, ns := range r.GetStageLatencyNs() {
		metrics["timer_"+stage+"_ns"] = ns
	}
	return logs.EventV1{
		Labels: s.labels, DecisionID: r.GetDecisionId(), TraceID: r.GetTraceId(), SpanID: r.GetSpanId(),
		Bundles: map[string]logs.BundleInfoV1{BundleName: {Revision: r.GetBundleRevision()}},
		Path:    DecisionPath, Input: &input, Result: &result, Erased: r.GetErased(), Masked: r.GetMasked(),
		Timestamp: r.GetTimestamp().AsTime(), Metrics: metrics,
	}, nil
}

// Close implements Sink.
func (s *HTTPSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
