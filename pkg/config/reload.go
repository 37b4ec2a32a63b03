package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// What a SIGHUP may change. Every top-level key is in exactly one of the
// two sets (a test holds the sets to the Config type, so a new key must be
// classified). A reloadable key is rebuilt into a new decision-path
// generation (verifier, hop table, request limits, upstream token source)
// that replaces the old one as a unit; a restart key is owned by something
// that lives as long as the process (a bound listener, the bundle source,
// the decision log, the rate-limit store, the DPoP replay cache).
var (
	// ReloadableKeys change on SIGHUP.
	ReloadableKeys = []string{
		"resource", "mcp_path", "public_origin", "resources", "allowed_origins",
		"issuers", "roles_claim", "roles_claim_format", "identity",
		"policy_deny_status", "deny_format", "limits", "check_deadline_margin",
		"log_level", "mode", "upstream_token", "token_exchange",
	}
	// RestartKeys need a restart: a SIGHUP changing one is refused whole.
	RestartKeys = []string{
		"listen", "admin_listen", "admin_listen_public", "pprof", "public_listen",
		"dpop", "bundle", "policy", "rate_limits", "drift_watch", "extproc",
		"shutdown", "shutdown_timeout", "token_minting", "providers", "connect",
		"decision_log", "tracing", "tls",
	}
)

// ReloadProblems returns every reason next cannot replace the running
// configuration live (nil when it can), each naming its key. started is
// the configuration the process started with: restart keys are compared
// with it (they never change while the process runs), and so is the gRPC
// message bound limits.body_bytes may not exceed.
func ReloadProblems(started, next *Config) error {
	var errs []error
	restart := map[string]bool{}
	for _, k := range RestartKeys {
		restart[k] = true
	}
	for _, k := range ChangedKeys(started, next) {
		if restart[k] {
			errs = append(errs, fmt.Errorf("%s: changed; it cannot change while the service runs (restart to apply it)", k))
		}
	}
	if started.Limits.MaxInFlight != next.Limits.MaxInFlight {
		errs = append(errs, errors.New("limits.max_in_flight: changed; the in-flight bound is shared by every Check (restart to apply it)"))
	}
	if bound := max(started.Limits.BodyBytes, started.ExtProc.MaxBodyBytes); next.Limits.BodyBytes > bound {
		errs = append(errs, fmt.Errorf("limits.body_bytes: %d exceeds the gRPC message bound set at start (%d bytes); restart to raise it",
			next.Limits.BodyBytes, bound))
	}
	return errors.Join(errs...)
}

// ChangedKeys lists the top-level keys whose values differ between a and
// b (after defaults), in declaration order. It names keys, never values,
// so it may be logged.
func ChangedKeys(a, b *Config) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var out []string
	for i := range va.NumField() {
		name := jsonName(va.Type().Field(i))
		if name == "" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, name)
		}
	}
	return out
}

// jsonName is a struct field's key in the file ("" for none).
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}
