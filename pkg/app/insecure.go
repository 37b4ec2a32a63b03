package app

import (
	"log/slog"
	"net"
	"strings"

	"github.com/mcp-authz/mcp-authz/pkg/config"
)

// warnAdminListen logs [INSECURE CONFIG] when the admin listener is
// reachable from other hosts without that being declared: it serves
// metrics, readiness detail and each issuer's last error, which tell an
// attacker what the service trusts and when it is weak.
// admin_listen_public: true says the exposure is deliberate (e.g. kubelet
// probes on the pod IP) and silences it.
func warnAdminListen(cfg *config.Config, log *slog.Logger) {
	if cfg.AdminListenPublic || isLoopback(cfg.AdminListen) {
		return
	}
	log.Warn("[INSECURE CONFIG] admin_listen is not a loopback address: /metrics, /readyz detail (bundle revision, issuer key status, issuer errors) are served without authentication to every host that can reach it; bind it to 127.0.0.1, or set admin_listen_public: true if this is deliberate",
		"admin_listen", cfg.AdminListen)
}

// isLoopback reports whether addr (host:port) only accepts connections
// from this host: localhost or a loopback IP. An empty host, 0.0.0.0, ::
// and any other name listen beyond it.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnConnect logs [INSECURE CONFIG] when the connect pages are reached over
// plain HTTP: their cookies cannot be Secure and an API key typed into the
// form crosses the network in the clear. It also says when no public
// listener serves them at all.
func warnConnect(cfg *config.Config, log *slog.Logger) {
	if strings.HasPrefix(cfg.Connect.BaseURL, "http://") {
		log.Warn("[INSECURE CONFIG] connect.base_url is http: the connect pages' cookies are not Secure and API keys cross the network unencrypted; serve them over https",
			"base_url", cfg.Connect.BaseURL)
	}
	if cfg.PublicListen == "" {
		log.Warn("providers are configured but public_listen is not: the connect pages (/connect/) are served nowhere and elicitation links lead nowhere")
	}
}
