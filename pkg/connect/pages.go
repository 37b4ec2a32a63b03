package connect

import (
	"bytes"
	"html/template"
	"net/http"
	"time"

	"github.com/mcp-authz/mcp-authz/pkg/credstore"
)

// pages are the connect flow's HTML, escaped by html/template. They carry no
// token: the connections page shows providers, scopes and expiry only.
var pages = template.Must(template.New("layout").Parse(`{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Title}}</title></head><body><main><h1>{{.Title}}</h1>{{end}}
{{define "foot"}}</main></body></html>{{end}}
{{define "message"}}{{template "head" .}}<p>{{.Message}}</p>{{if .Reason}}<p><small>Reason: <code>{{.Reason}}</code></small></p>{{end}}{{template "foot"}}{{end}}
{{define "apikey"}}{{template "head" .}}<p>Enter your {{.Provider}} API key. It is stored encrypted and sent only to the
service you are connecting; your MCP client never sees it.</p>{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}
<form method="post" action="{{.Action}}"><input type="hidden" name="state" value="{{.CSRF}}">
<label>API key <input type="password" name="api_key" autocomplete="off" required maxlength="4096"></label>
<button type="submit">Connect</button></form>{{template "foot"}}{{end}}
{{define "connections"}}{{template "head" .}}<p>Signed in as <code>{{.Subject}}</code>.</p>
{{if .Connections}}<table><tr><th>Provider</th><th>Scopes</th><th>Expires</th><th></th></tr>
{{range .Connections}}<tr><td>{{.Provider}}</td><td>{{range .Scopes}}<code>{{.}}</code> {{end}}</td>
<td>{{if .ExpiresAt.IsZero}}never{{else}}{{.ExpiresAt.UTC.Format "2006-01-02 15:04 UTC"}}{{end}}{{if .Stale}} (needs reconnecting){{end}}</td>
<td><form method="post" action="{{$.Action}}"><input type="hidden" name="state" value="{{$.CSRF}}">
<input type="hidden" name="provider" value="{{.Provider}}"><button type="submit">Revoke</button></form></td></tr>
{{end}}</table>{{else}}<p>No connections.</p>{{end}}{{template "foot"}}{{end}}`))

// page is the data of every page.
type page struct {
	Title, Message, Reason, Provider, Action, CSRF, Subject string
	Connections                                             []credstore.Summary
}

// render writes a page with headers that keep it out of caches, frames and
// referrers.
func render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// noStore sets the headers every connect response carries.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// successPage is shown when a connection is stored.
func successPage(w http.ResponseWriter, provider string) {
	render(w, http.StatusOK, "message", page{Title: "Connected",
		Message: "Your " + provider + " account is connected. You may close this page and return to your client."})
}

// sessionTTL bounds the connections page's session.
const sessionTTL = 15 * time.Minute
