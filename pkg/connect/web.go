package connect

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcp-authz/mcp-authz/pkg/redact"
)

// Paths of the browser flow on the public listener.
const (
	PathPrefix       = "/connect/"
	pathElicitation  = "/connect/e/"
	pathLoginCB      = "/connect/callback/login"
	pathProviderCB   = "/connect/callback/provider"
	pathAPIKey       = "/connect/api-key"
	pathConnections  = "/connect/"
	pathRevoke       = "/connect/revoke"
	maxFormBytes     = 8 << 10
	outboundTimeout  = 10 * time.Second
	maxSessionCookie = 1024
)

// HandlerOptions are what the browser flow reports to.
type HandlerOptions struct {
	// Log receives one line per refused step (reason and cause, never a token).
	Log *slog.Logger
	// Observe counts every finished step: outcome ("connected", "revoked",
	// "refused") and the stable reason ("" unless refused).
	Observe func(outcome, reason string)
}

// web serves the connect flow's pages for one Service.
type web struct {
	s                         *Service
	log                       *slog.Logger
	observe                   func(outcome, reason string)
	pending                   *pendingSet
	session                   cipher.AEAD
	flowCookie, sessionCookie string
	secure                    bool
	client                    *http.Client

	loginMu sync.Mutex
	login   *loginClient
}

// Handler returns the browser side of the connect flow, to be mounted on
// the public listener under PathPrefix.
func (s *Service) Handler(o HandlerOptions) (http.Handler, error) {
	sess, err := s.store.Keys().Derive("connect-session")
	if err != nil {
		return nil, err
	}
	h := &web{s: s, log: o.Log, observe: o.Observe, session: sess,
		pending: &pendingSet{exp: map[string]time.Time{}, max: maxPendingFlows},
		client:  &http.Client{Timeout: outboundTimeout}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.observe == nil {
		h.observe = func(string, string) {}
	}
	h.flowCookie, h.sessionCookie, h.secure = cookieNames(s.baseURL)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathElicitation+"{id}", h.startElicitation)
	mux.HandleFunc("GET "+pathLoginCB, h.loginCallback)
	mux.HandleFunc("GET "+pathProviderCB, h.providerCallback)
	mux.HandleFunc("POST "+pathAPIKey, h.apiKeySubmit)
	mux.HandleFunc("GET "+pathConnections+"{$}", h.connections)
	mux.HandleFunc("POST "+pathRevoke, h.revoke)
	return noStore(mux), nil
}

// fail renders the stable error page of a refusal and logs and counts it.
func (h *web) fail(w http.ResponseWriter, r *http.Request, rf *refusal) {
	h.observe("refused", rf.reason)
	attrs := []any{"reason", rf.reason, "path", r.URL.Path}
	if rf.cause != nil {
		attrs = append(attrs, "cause", causeOf(rf.cause))
	}
	h.log.Warn("connect: browser flow refused", attrs...)
	render(w, rf.status(), "message", page{Title: "Not connected", Message: rf.message(), Reason: rf.reason})
}

// outbound gives calls to the issuer and providers our HTTP client (with a
// timeout) through the context, as golang.org/x/oauth2 and go-oidc read it.
func (h *web) outbound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, outboundTimeout)
	return withClient(ctx, h.client), cancel
}

// causeOf is what may be logged of a cause: a token endpoint's error is cut
// to its status and error code (its body could echo anything), every other
// error is scrubbed of URL queries and credentials.
func causeOf(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Sprintf("token endpoint: status %d, error %q", status, re.ErrorCode)
	}
	return redact.String(err.Error())
}
