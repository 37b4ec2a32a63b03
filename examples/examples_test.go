// Package examples_test checks that the deployment examples under examples/
// are configurations their consumers accept and that they keep mcp-authz's
// guarantees: envoy/envoy.yaml must load into the go-control-plane v1.40.0
// Bootstrap and pass its generated validation with the fail-closed ext_authz
// settings, and the istio/ manifests must agree with each other (provider
// name, service, ports, probes, mounts) and with mcp-authz's config keys.
// A copied example that silently fails open is worse than none.
package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	mcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/mcp/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"
)

const (
	envoyFile       = "envoy/envoy.yaml"
	meshConfigFile  = "istio/meshconfig.yaml"
	authzPolicy     = "istio/authorizationpolicy.yaml"
	deploymentFile  = "istio/deployment.yaml"
	envoyFilterFile = "istio/envoyfilter-extproc.yaml"

	extAuthzFilter = "envoy.filters.http.ext_authz"
	extProcFilter  = "envoy.filters.http.ext_proc"
	mcpFilter      = "envoy.filters.http.mcp"
	maxBodyBytes   = 1048576
)

// ---------------------------------------------------------------------------
// Envoy

// envoyTypes resolves the Any values of envoy.yaml. It knows only the types
// the example is meant to use, so a new typed_config must be added here (and
// is then validated) rather than slipping through unchecked.
func envoyTypes(t *testing.T) *protoregistry.Types {
	t.Helper()
	types := new(protoregistry.Types)
	for _, m := range []proto.Message{
		&hcmv3.HttpConnectionManager{},
		&extauthzv3.ExtAuthz{},
		&extauthzv3.ExtAuthzPerRoute{},
		&extprocv3.ExternalProcessor{},
		&extprocv3.ExtProcPerRoute{},
		&mcpv3.Mcp{},
		&mcpv3.McpOverride{},
		&routerv3.Router{},
		&upstreamhttpv3.HttpProtocolOptions{},
	} {
		if err := types.RegisterMessage(m.ProtoReflect().Type()); err != nil {
			t.Fatalf("RegisterMessage(%T) = %v; want nil", m, err)
		}
	}
	return types
}

// loadBootstrap reads envoy.yaml as Envoy would: YAML → JSON → proto3 JSON,
// unknown fields rejected.
func loadBootstrap(t *testing.T) (*bootstrapv3.Bootstrap, *protoregistry.Types) {
	t.Helper()
	raw, err := os.ReadFile(envoyFile)
	if err != nil {
		t.Fatalf("ReadFile(%q) = %v; want nil", envoyFile, err)
	}
	js, err := yaml.YAMLToJSONStrict(raw) // duplicate keys are an error
	if err != nil {
		t.Fatalf("YAMLToJSONStrict(%q) = %v; want nil", envoyFile, err)
	}
	types := envoyTypes(t)
	b := new(bootstrapv3.Bootstrap)
	if err := (protojson.UnmarshalOptions{Resolver: types}).Unmarshal(js, b); err != nil {
		t.Fatalf("protojson.Unmarshal(%q) = %v; want nil", envoyFile, err)
	}
	return b, types
}

// node is one message of the loaded config, named by its field path.
type node struct {
	path string
	msg  proto.Message
}

// walkConfig returns root and every message packed in an Any below it,
// unpacked with types, each followed by the Any values nested inside it.
func walkConfig(t *testing.T, root proto.Message, types *protoregistry.Types) []node {
	t.Helper()
	nodes := []node{{path: "bootstrap", msg: root}}
	for i := 0; i < len(nodes); i++ {
		forEachAny(nodes[i].path, nodes[i].msg.ProtoReflect(), func(p string, a *anypb.Any) {
			m, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{Resolver: types})
			if err != nil {
				t.Fatalf("anypb.UnmarshalNew(%s: %s) = %v; want nil", p, a.GetTypeUrl(), err)
			}
			nodes = append(nodes, node{path: p, msg: m})
		})
	}
	return nodes
}

// forEachAny calls fn for every populated google.protobuf.Any field below m.
func forEachAny(at string, m protoreflect.Message, fn func(string, *anypb.Any)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := at + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				visitMessage(fmt.Sprintf("%s[%d]", p, i), v.List().Get(i).Message(), fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				visitMessage(fmt.Sprintf("%s[%q]", p, k.String()), mv.Message(), fn)
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			visitMessage(p, v.Message(), fn)
		}
		return true
	})
}

func visitMessage(p string, m protoreflect.Message, fn func(string, *anypb.Any)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		fn(p, a)
		return
	}
	forEachAny(p, m, fn)
}

// row is one named expectation: got must equal want.
type row struct {
	name string
	got  any
	want any
}

// checkRows runs one subtest per row; what names the file or object checked.
func checkRows(t *testing.T, what string, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if diff := cmp.Diff(r.want, r.got); diff != "" {
				t.Errorf("%s %s = %v; want %v", what, r.name, r.got, r.want)
			}
		})
	}
}

// validator is the method protoc-gen-validate generates on Envoy's types.
type validator interface{ ValidateAll() error }

func TestEnvoyConfigValidates(t *testing.T) {
	b, types := loadBootstrap(t)
	nodes := walkConfig(t, b, types)
	if len(nodes) < 6 {
		t.Fatalf("walkConfig found %d messages; want the bootstrap and at least 5 typed configs", len(nodes))
	}
	for _, n := range nodes {
		t.Run(n.path, func(t *testing.T) {
			v, ok := n.msg.(validator)
			if !ok {
				t.Fatalf("%T has no ValidateAll; every Envoy config type should", n.msg)
			}
			if err := v.ValidateAll(); err != nil {
				t.Errorf("%T.ValidateAll() = %v; want nil", n.msg, err)
			}
		})
	}
}

func TestEnvoyConfigUsesNoDeprecatedField(t *testing.T) {
	b, types := loadBootstrap(t)
	for _, n := range walkConfig(t, b, types) {
		var found []string
		deprecatedFields(n.path, n.msg.ProtoReflect(), &found)
		if len(found) > 0 {
			t.Errorf("%s sets deprecated fields or enum values: %v; want none", n.path, found)
		}
	}
}

// deprecatedFields appends the path of every set field, or enum value, that
// its .proto marks deprecated. Any values are skipped: walkConfig visits them.
func deprecatedFields(at string, m protoreflect.Message, out *[]string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := at + "." + string(fd.Name())
		if isDeprecated(fd) {
			*out = append(*out, p)
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				deprecatedValue(fmt.Sprintf("%s[%d]", p, i), fd, v.List().Get(i), out)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				deprecatedValue(fmt.Sprintf("%s[%q]", p, k.String()), fd.MapValue(), mv, out)
				return true
			})
		default:
			deprecatedValue(p, fd, v, out)
		}
		return true
	})
}

func deprecatedValue(p string, fd protoreflect.FieldDescriptor, v protoreflect.Value, out *[]string) {
	switch {
	case fd.Enum() != nil:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev != nil && ev.Options().(*descriptorpb.EnumValueOptions).GetDeprecated() {
			*out = append(*out, p+"="+string(ev.Name()))
		}
	case fd.Message() != nil:
		if _, isAny := v.Message().Interface().(*anypb.Any); !isAny {
			deprecatedFields(p, v.Message(), out)
		}
	}
}

func isDeprecated(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	return ok && opts.GetDeprecated()
}

// envoyParts is what the assertions below look at.
type envoyParts struct {
	hcm      *hcmv3.HttpConnectionManager
	extAuthz *extauthzv3.ExtAuthz
	extProc  *extprocv3.ExternalProcessor
	mcp      *mcpv3.Mcp
	routes   map[string]*routev3.Route
	clusters map[string]*clusterv3.Cluster
	types    *protoregistry.Types
}

func envoyConfig(t *testing.T) envoyParts {
	t.Helper()
	b, types := loadBootstrap(t)
	res := b.GetStaticResources()
	if n := len(res.GetListeners()); n != 1 {
		t.Fatalf("len(listeners) = %d; want 1", n)
	}
	l := res.GetListeners()[0]
	if got := hostPort(l.GetAddress()); got != "0.0.0.0:8080" {
		t.Errorf("listener %q address = %s; want 0.0.0.0:8080", l.GetName(), got)
	}
	hcm := listenerHCM(t, l, types)
	p := envoyParts{hcm: hcm, routes: map[string]*routev3.Route{}, clusters: map[string]*clusterv3.Cluster{}, types: types}
	for _, f := range hcm.GetHttpFilters() {
		switch f.GetName() {
		case extAuthzFilter:
			p.extAuthz = new(extauthzv3.ExtAuthz)
			unpack(t, f.GetTypedConfig(), p.extAuthz, types)
		case extProcFilter:
			p.extProc = new(extprocv3.ExternalProcessor)
			unpack(t, f.GetTypedConfig(), p.extProc, types)
		case mcpFilter:
			p.mcp = new(mcpv3.Mcp)
			unpack(t, f.GetTypedConfig(), p.mcp, types)
		}
	}
	if p.extAuthz == nil || p.extProc == nil || p.mcp == nil {
		t.Fatalf("http_filters lack %q, %q or %q; want all three filters", mcpFilter, extAuthzFilter, extProcFilter)
	}
	for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			p.routes[r.GetName()] = r
		}
	}
	for _, c := range res.GetClusters() {
		p.clusters[c.GetName()] = c
	}
	return p
}

// listenerHCM returns the listener's only network filter, which must be the
// HTTP connection manager.
func listenerHCM(t *testing.T, l *listenerv3.Listener, types *protoregistry.Types) *hcmv3.HttpConnectionManager {
	t.Helper()
	chains := l.GetFilterChains()
	if len(chains) != 1 || len(chains[0].GetFilters()) != 1 {
		t.Fatalf("listener %q filter_chains = %v; want one chain with one filter", l.GetName(), chains)
	}
	f := chains[0].GetFilters()[0]
	if f.GetName() != "envoy.filters.network.http_connection_manager" {
		t.Fatalf("listener %q filter = %q; want envoy.filters.network.http_connection_manager", l.GetName(), f.GetName())
	}
	hcm := new(hcmv3.HttpConnectionManager)
	unpack(t, f.GetTypedConfig(), hcm, types)
	return hcm
}

func unpack(t *testing.T, a *anypb.Any, into proto.Message, types *protoregistry.Types) {
	t.Helper()
	if err := anypb.UnmarshalTo(a, into, proto.UnmarshalOptions{Resolver: types}); err != nil {
		t.Fatalf("anypb.UnmarshalTo(%s, %T) = %v; want nil", a.GetTypeUrl(), into, err)
	}
}

func hostPort(a *corev3.Address) string {
	sa := a.GetSocketAddress()
	return net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
}

func TestEnvoyExtAuthzSettings(t *testing.T) {
	ea := envoyConfig(t).extAuthz
	tests := []row{
		{"grpc_service.envoy_grpc.cluster_name", ea.GetGrpcService().GetEnvoyGrpc().GetClusterName(), "mcp_authz"},
		{"grpc_service.timeout", ea.GetGrpcService().GetTimeout().AsDuration(), 250 * time.Millisecond},
		{"transport_api_version", ea.GetTransportApiVersion(), corev3.ApiVersion_V3},
		{"failure_mode_allow", ea.GetFailureModeAllow(), false},
		{"status_on_error.code", ea.GetStatusOnError().GetCode(), typev3.StatusCode_ServiceUnavailable},
		{"with_request_body set", ea.GetWithRequestBody() != nil, true},
		{"with_request_body.max_request_bytes", ea.GetWithRequestBody().GetMaxRequestBytes(), uint32(maxBodyBytes)},
		{"with_request_body.allow_partial_message", ea.GetWithRequestBody().GetAllowPartialMessage(), false},
		{"with_request_body.pack_as_bytes", ea.GetWithRequestBody().GetPackAsBytes(), true},
		{"encode_raw_headers", ea.GetEncodeRawHeaders(), true},
		{"include_peer_certificate", ea.GetIncludePeerCertificate(), true},
		{"clear_route_cache", ea.GetClearRouteCache(), false},
		{"shadow_mode", ea.GetShadowMode(), false},
		{"filter_enabled unset (always on)", ea.GetFilterEnabled() == nil && ea.GetFilterEnabledMetadata() == nil, true},
		{"allowed_headers unset (gRPC sends all)", ea.GetAllowedHeaders() == nil, true},
		{"metadata_context_namespaces", strings.Join(ea.GetMetadataContextNamespaces(), ","), mcpFilter + ",mcp_proxy"},
	}
	checkRows(t, "ext_authz", tests)
}

// TestEnvoyMCPFilterSettings pins the MCP filter in front of ext_authz:
// it refuses non-MCP traffic and duplicate keys, checks the Mcp-* headers
// against the body, sees the whole body ext_authz sees, and writes the
// dynamic metadata mcp-authz cross-checks; only the metadata route lets
// non-MCP traffic through it.
func TestEnvoyMCPFilterSettings(t *testing.T) {
	p := envoyConfig(t)
	m := p.mcp
	checkRows(t, "mcp", []row{
		{"traffic_mode", m.GetTrafficMode(), mcpv3.Mcp_REJECT_NO_MCP},
		{"reject_duplicate_keys", m.GetRejectDuplicateKeys().GetValue(), true},
		{"attribute_source", m.GetAttributeSource(), mcpv3.Mcp_VERIFY},
		{"max_request_body_size", m.GetMaxRequestBodySize().GetValue(), uint32(maxBodyBytes)},
		{"request_storage_mode", m.GetRequestStorageMode(), mcpv3.Mcp_DYNAMIC_METADATA},
		{"early_terminate_when_routable", m.GetEarlyTerminateWhenRoutable(), false},
	})
	for name, r := range p.routes {
		cfg, ok := r.GetTypedPerFilterConfig()[mcpFilter]
		if name != "protected_resource_metadata" {
			if ok {
				t.Errorf("route %q overrides the MCP filter; want only the metadata route to", name)
			}
			continue
		}
		o := new(mcpv3.McpOverride)
		if !ok {
			t.Fatalf("route %q does not override the MCP filter; want PASS_THROUGH", name)
		}
		unpack(t, cfg, o, p.types)
		if o.GetTrafficMode() != mcpv3.Mcp_PASS_THROUGH {
			t.Errorf("route %q MCP traffic_mode = %v; want PASS_THROUGH", name, o.GetTrafficMode())
		}
	}
}

func TestEnvoyFilterOrder(t *testing.T) {
	var names []string
	for _, f := range envoyConfig(t).hcm.GetHttpFilters() {
		names = append(names, f.GetName())
	}
	want := []string{mcpFilter, extAuthzFilter, extProcFilter, "envoy.filters.http.router"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("http_filters = %v; want %v (the MCP filter, ext_authz, ext_proc, then the router)", names, want)
	}
}

// TestEnvoyExtProcSettings pins the response processor's fail-closed
// settings: an ext_proc that fails open would hand the client unfiltered
// lists, and one without the forwarded namespace would refuse every answer.
func TestEnvoyExtProcSettings(t *testing.T) {
	ep := envoyConfig(t).extProc
	pm := ep.GetProcessingMode()
	overrides := []string{}
	for _, m := range ep.GetAllowedOverrideModes() {
		overrides = append(overrides, m.GetResponseHeaderMode().String()+"/"+m.GetResponseBodyMode().String())
	}
	tests := []row{
		{"grpc_service.envoy_grpc.cluster_name", ep.GetGrpcService().GetEnvoyGrpc().GetClusterName(), "mcp_authz"},
		{"grpc_service.timeout unset (streams outlive it)", ep.GetGrpcService().GetTimeout() == nil, true},
		{"failure_mode_allow", ep.GetFailureModeAllow(), false},
		{"observability_mode", ep.GetObservabilityMode(), false},
		{"status_on_error.code", ep.GetStatusOnError().GetCode(), typev3.StatusCode_ServiceUnavailable},
		{"message_timeout", ep.GetMessageTimeout().AsDuration(), time.Second},
		{"processing_mode.request_header_mode", pm.GetRequestHeaderMode(), extprocv3.ProcessingMode_SEND},
		{"processing_mode.response_header_mode", pm.GetResponseHeaderMode(), extprocv3.ProcessingMode_SEND},
		{"processing_mode.request_body_mode", pm.GetRequestBodyMode(), extprocv3.ProcessingMode_NONE},
		{"processing_mode.response_body_mode", pm.GetResponseBodyMode(), extprocv3.ProcessingMode_NONE},
		{"allow_mode_override", ep.GetAllowModeOverride(), true},
		{"allowed_override_modes", overrides, []string{"SEND/BUFFERED", "SEND/STREAMED"}},
		{"send_body_without_waiting_for_header_response (would ignore mode_override)", ep.GetSendBodyWithoutWaitingForHeaderResponse(), false},
		{"metadata_options.forwarding_namespaces.untyped", ep.GetMetadataOptions().GetForwardingNamespaces().GetUntyped(), []string{extAuthzFilter}},
		{"disable_immediate_response", ep.GetDisableImmediateResponse(), false},
		{"route_cache_action", ep.GetRouteCacheAction(), extprocv3.ExternalProcessor_RETAIN},
	}
	checkRows(t, "ext_proc", tests)
	l := loadListener(t)
	if got := l.GetPerConnectionBufferLimitBytes().GetValue(); got != 4<<20 {
		t.Errorf("listener per_connection_buffer_limit_bytes = %d; want 4194304 (the processor's max_body_bytes)", got)
	}
}

// TestEnvoyExtProcOnlyOffForMetadata keeps ext_proc on every route that
// reaches the MCP server.
func TestEnvoyExtProcOnlyOffForMetadata(t *testing.T) {
	p := envoyConfig(t)
	var disabled []string
	for name, r := range p.routes {
		a, ok := r.GetTypedPerFilterConfig()[extProcFilter]
		if !ok {
			continue
		}
		pr := new(extprocv3.ExtProcPerRoute)
		unpack(t, a, pr, p.types)
		if pr.GetDisabled() {
			disabled = append(disabled, name)
		}
	}
	if want := []string{"protected_resource_metadata"}; !slices.Equal(disabled, want) {
		t.Errorf("routes with ext_proc disabled = %v; want %v", disabled, want)
	}
}

func loadListener(t *testing.T) *listenerv3.Listener {
	t.Helper()
	b, _ := loadBootstrap(t)
	return b.GetStaticResources().GetListeners()[0]
}

// perRoute returns the route's ExtAuthzPerRoute, or nil when it has none.
func perRoute(t *testing.T, p envoyParts, r *routev3.Route) *extauthzv3.ExtAuthzPerRoute {
	t.Helper()
	a, ok := r.GetTypedPerFilterConfig()[extAuthzFilter]
	if !ok {
		return nil
	}
	pr := new(extauthzv3.ExtAuthzPerRoute)
	unpack(t, a, pr, p.types)
	return pr
}

func TestEnvoyRoutes(t *testing.T) {
	p := envoyConfig(t)
	tests := []struct {
		route       string
		match       string
		cluster     string
		disabled    bool
		wantContext map[string]string
	}{
		{"mcp", "path=/mcp", "mcp_upstream", false,
			map[string]string{"resource": "https://mcp.example.test/mcp", "server": "issues"}},
		{"protected_resource_metadata", "path_separated_prefix=/.well-known/oauth-protected-resource",
			"mcp_authz_public", true, nil},
		{"not_found", "prefix=/", "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.route, func(t *testing.T) {
			r, ok := p.routes[tt.route]
			if !ok {
				t.Fatalf("route %q missing; routes: %v", tt.route, mapKeys(p.routes))
			}
			if got := matchString(r.GetMatch()); got != tt.match {
				t.Errorf("route %q match = %s; want %s", tt.route, got, tt.match)
			}
			if got := r.GetRoute().GetCluster(); got != tt.cluster {
				t.Errorf("route %q cluster = %q; want %q", tt.route, got, tt.cluster)
			}
			pr := perRoute(t, p, r)
			if got := pr.GetDisabled(); got != tt.disabled {
				t.Errorf("route %q ext_authz disabled = %v; want %v", tt.route, got, tt.disabled)
			}
			got := pr.GetCheckSettings().GetContextExtensions()
			if diff := cmp.Diff(tt.wantContext, got); diff != "" {
				t.Errorf("route %q context_extensions = %v; want %v", tt.route, got, tt.wantContext)
			}
		})
	}
}

func matchString(m *routev3.RouteMatch) string {
	switch {
	case m.GetPath() != "":
		return "path=" + m.GetPath()
	case m.GetPathSeparatedPrefix() != "":
		return "path_separated_prefix=" + m.GetPathSeparatedPrefix()
	case m.GetPrefix() != "":
		return "prefix=" + m.GetPrefix()
	}
	return fmt.Sprintf("other(%v)", m)
}

// TestEnvoyOnlyMetadataSkipsAuthz keeps the ext_authz bypass to one route: a
// new route that disables the filter must be added to this test on purpose.
func TestEnvoyOnlyMetadataSkipsAuthz(t *testing.T) {
	p := envoyConfig(t)
	var disabled []string
	for name, r := range p.routes {
		if perRoute(t, p, r).GetDisabled() {
			disabled = append(disabled, name)
		}
	}
	if want := []string{"protected_resource_metadata"}; !slices.Equal(disabled, want) {
		t.Errorf("routes with ext_authz disabled = %v; want %v", disabled, want)
	}
	if !p.hcm.GetNormalizePath().GetValue() || !p.hcm.GetMergeSlashes() {
		t.Errorf("normalize_path = %v, merge_slashes = %v; want both true so /mcp cannot be spelled another way",
			p.hcm.GetNormalizePath().GetValue(), p.hcm.GetMergeSlashes())
	}
}

func TestEnvoyClusters(t *testing.T) {
	p := envoyConfig(t)
	tests := []struct {
		cluster string
		addr    string
		http2   bool
		grpcHC  bool
	}{
		{"mcp_authz", "127.0.0.1:9191", true, true},
		{"mcp_authz_public", "127.0.0.1:9193", false, false},
		{"mcp_upstream", "127.0.0.1:3000", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			c, ok := p.clusters[tt.cluster]
			if !ok {
				t.Fatalf("cluster %q missing; clusters: %v", tt.cluster, mapKeys(p.clusters))
			}
			eps := c.GetLoadAssignment().GetEndpoints()
			if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
				t.Fatalf("cluster %q endpoints = %v; want exactly one", tt.cluster, eps)
			}
			if got := hostPort(eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress()); got != tt.addr {
				t.Errorf("cluster %q endpoint = %s; want %s", tt.cluster, got, tt.addr)
			}
			if got := usesHTTP2(t, p, c); got != tt.http2 {
				t.Errorf("cluster %q HTTP/2 = %v; want %v", tt.cluster, got, tt.http2)
			}
			if got := hasGRPCHealthCheck(c); got != tt.grpcHC {
				t.Errorf("cluster %q grpc_health_check = %v; want %v", tt.cluster, got, tt.grpcHC)
			}
		})
	}
}

func usesHTTP2(t *testing.T, p envoyParts, c *clusterv3.Cluster) bool {
	t.Helper()
	a, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
	if !ok {
		return false
	}
	o := new(upstreamhttpv3.HttpProtocolOptions)
	unpack(t, a, o, p.types)
	return o.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
}

func hasGRPCHealthCheck(c *clusterv3.Cluster) bool {
	for _, hc := range c.GetHealthChecks() {
		if hc.GetGrpcHealthCheck() != nil {
			return true
		}
	}
	return false
}

// TestEnvoyClusterReferences catches a renamed cluster: every name the routes
// and the ext_authz filter use must exist.
func TestEnvoyClusterReferences(t *testing.T) {
	p := envoyConfig(t)
	refs := map[string]string{"ext_authz grpc_service": p.extAuthz.GetGrpcService().GetEnvoyGrpc().GetClusterName()}
	for name, r := range p.routes {
		if c := r.GetRoute().GetCluster(); c != "" {
			refs["route "+name] = c
		}
	}
	for from, c := range refs {
		if _, ok := p.clusters[c]; !ok {
			t.Errorf("%s names cluster %q; want one of %v", from, c, mapKeys(p.clusters))
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ---------------------------------------------------------------------------
// Istio

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocs splits a multi-document YAML file on "---" lines and drops the
// documents that hold only comments or blank lines.
func splitDocs(t *testing.T, file string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("ReadFile(%q) = %v; want nil", file, err)
	}
	var docs [][]byte
	for _, d := range docSeparator.Split(string(raw), -1) {
		if hasContent(d) {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
			return true
		}
	}
	return false
}

// strict decodes one YAML document, rejecting keys the target does not name.
// encoding/json matches keys case-insensitively, so the keys are compared
// again, exactly, against the target encoded back: "failopen" is not
// "failOpen" to Istio.
func strict(t *testing.T, file string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("yaml.UnmarshalStrict(%s, %T) = %v; want nil", file, into, err)
	}
	var orig, back any
	if err := yaml.Unmarshal(doc, &orig); err != nil {
		t.Fatalf("yaml.Unmarshal(%s) = %v; want nil", file, err)
	}
	js, err := json.Marshal(into)
	if err != nil {
		t.Fatalf("json.Marshal(%T) = %v; want nil", into, err)
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatalf("json.Unmarshal(%T) = %v; want nil", into, err)
	}
	if bad := foreignKeys("", orig, back); len(bad) > 0 {
		t.Fatalf("%s keys %v are not spelt as %T names them; want exact field names", file, bad, into)
	}
}

// foreignKeys returns the paths of keys in orig that back lacks exactly.
func foreignKeys(at string, orig, back any) []string {
	var bad []string
	switch o := orig.(type) {
	case map[string]any:
		b, _ := back.(map[string]any)
		for k, v := range o {
			bv, ok := b[k]
			if !ok {
				bad = append(bad, at+"."+k)
				continue
			}
			bad = append(bad, foreignKeys(at+"."+k, v, bv)...)
		}
	case []any:
		b, _ := back.([]any)
		for i := range min(len(o), len(b)) {
			bad = append(bad, foreignKeys(fmt.Sprintf("%s[%d]", at, i), o[i], b[i])...)
		}
	}
	return bad
}

// meshValues mirrors istio.mesh.v1alpha1.MeshConfig as far as the example
// uses it. Strict decoding makes a misspelt field (failopen) an error here
// instead of a silently ignored key.
type meshValues struct {
	MeshConfig struct {
		ExtensionProviders []struct {
			Name              string        `json:"name"`
			EnvoyExtAuthzGrpc *grpcProvider `json:"envoyExtAuthzGrpc"`
		} `json:"extensionProviders"`
	} `json:"meshConfig"`
}

// grpcProvider is MeshConfig.ExtensionProvider.EnvoyExternalAuthorizationGrpcProvider.
type grpcProvider struct {
	Service                   string       `json:"service"`
	Port                      uint32       `json:"port"`
	Timeout                   string       `json:"timeout"`
	FailOpen                  *bool        `json:"failOpen"`
	StatusOnError             string       `json:"statusOnError"`
	IncludeRequestBodyInCheck *requestBody `json:"includeRequestBodyInCheck"`
}

// requestBody is EnvoyExternalAuthorizationRequestBody.
type requestBody struct {
	MaxRequestBytes     uint32 `json:"maxRequestBytes"`
	AllowPartialMessage *bool  `json:"allowPartialMessage"`
	PackAsBytes         *bool  `json:"packAsBytes"`
}

// provider is the single mcp-authz provider of meshconfig.yaml.
func provider(t *testing.T) (string, *grpcProvider) {
	t.Helper()
	docs := splitDocs(t, meshConfigFile)
	if len(docs) != 1 {
		t.Fatalf("%s has %d documents; want 1", meshConfigFile, len(docs))
	}
	var v meshValues
	strict(t, meshConfigFile, docs[0], &v)
	ps := v.MeshConfig.ExtensionProviders
	if len(ps) != 1 || ps[0].EnvoyExtAuthzGrpc == nil {
		t.Fatalf("%s extensionProviders = %+v; want one envoyExtAuthzGrpc provider", meshConfigFile, ps)
	}
	return ps[0].Name, ps[0].EnvoyExtAuthzGrpc
}

func TestIstioMeshConfigProvider(t *testing.T) {
	name, p := provider(t)
	timeout, err := time.ParseDuration(p.Timeout)
	if err != nil {
		t.Fatalf("time.ParseDuration(%q) = %v; want nil", p.Timeout, err)
	}
	body := p.IncludeRequestBodyInCheck
	if body == nil {
		t.Fatalf("includeRequestBodyInCheck missing; want it set (mcp-authz judges the JSON-RPC body)")
	}
	tests := []row{
		{"name", name, "mcp-authz"},
		{"port", p.Port, uint32(9191)},
		{"failOpen explicit false", fmt.Sprint(deref(p.FailOpen)), "false"},
		{"statusOnError", p.StatusOnError, "503"},
		{"timeout within (0, 1s]", timeout > 0 && timeout <= time.Second, true},
		{"includeRequestBodyInCheck.maxRequestBytes", body.MaxRequestBytes, uint32(maxBodyBytes)},
		{"includeRequestBodyInCheck.allowPartialMessage", fmt.Sprint(deref(body.AllowPartialMessage)), "false"},
		{"includeRequestBodyInCheck.packAsBytes", fmt.Sprint(deref(body.PackAsBytes)), "true"},
	}
	checkRows(t, meshConfigFile, tests)
}

// deref shows an unset *bool as "unset" so "must be explicit" rows fail.
func deref(b *bool) any {
	if b == nil {
		return "unset"
	}
	return *b
}

// authorizationPolicy is security.istio.io/v1 AuthorizationPolicy, strict.
type authorizationPolicy struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Action   string `json:"action"`
		Provider struct {
			Name string `json:"name"`
		} `json:"provider"`
		Rules []struct {
			To []struct {
				Operation operation `json:"operation"`
			} `json:"to"`
		} `json:"rules"`
	} `json:"spec"`
}

type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

// operation is the part of an Istio Operation the example may use.
type operation struct {
	Paths    []string `json:"paths"`
	NotPaths []string `json:"notPaths"`
	Methods  []string `json:"methods"`
}

func loadPolicy(t *testing.T) authorizationPolicy {
	t.Helper()
	docs := splitDocs(t, authzPolicy)
	if len(docs) != 1 {
		t.Fatalf("%s has %d documents; want 1", authzPolicy, len(docs))
	}
	var ap authorizationPolicy
	strict(t, authzPolicy, docs[0], &ap)
	return ap
}

func TestIstioAuthorizationPolicy(t *testing.T) {
	ap := loadPolicy(t)
	name, _ := provider(t)
	tests := []row{
		{"apiVersion", ap.APIVersion, "security.istio.io/v1"},
		{"kind", ap.Kind, "AuthorizationPolicy"},
		{"spec.action", ap.Spec.Action, "CUSTOM"},
		{"spec.provider.name matches the MeshConfig provider", ap.Spec.Provider.Name, name},
		{"spec.selector.matchLabels set", len(ap.Spec.Selector.MatchLabels) > 0, true},
		{"spec.rules set", len(ap.Spec.Rules) > 0, true},
	}
	checkRows(t, authzPolicy, tests)
}

// TestIstioPolicyCoversMCPPath evaluates the policy's rules the way Istio
// matches paths (exact, "prefix*", "*suffix", "*"; rules OR, fields AND).
// Spellings of the MCP path that an app router may treat as /mcp must still
// be checked; only the RFC 9728 metadata may skip mcp-authz.
func TestIstioPolicyCoversMCPPath(t *testing.T) {
	ap := loadPolicy(t)
	tests := []struct {
		path string
		want bool
	}{
		{"/mcp", true},
		{"/mcp/", true},
		{"/MCP", true},
		{"/Mcp", true},
		{"/mcp/messages", true},
		{"/sse", true},
		{"/", true},
		{"/.well-known/oauth-protected-resource", false},
		{"/.well-known/oauth-protected-resource/mcp", false},
		{"/.well-known/oauth-authorization-server", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := policyMatches(ap, tt.path); got != tt.want {
				t.Errorf("CUSTOM policy matches %q = %v; want %v", tt.path, got, tt.want)
			}
		})
	}
}

func policyMatches(ap authorizationPolicy, p string) bool {
	for _, r := range ap.Spec.Rules {
		if len(r.To) == 0 {
			return true
		}
		for _, to := range r.To {
			op := to.Operation
			inPaths := len(op.Paths) == 0 || slices.ContainsFunc(op.Paths, func(s string) bool { return istioMatch(s, p) })
			notExcluded := !slices.ContainsFunc(op.NotPaths, func(s string) bool { return istioMatch(s, p) })
			if inPaths && notExcluded {
				return true
			}
		}
	}
	return false
}

func istioMatch(pattern, p string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(p, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(p, strings.TrimPrefix(pattern, "*"))
	}
	return pattern == p
}

// ---------------------------------------------------------------------------
// Istio: mcp-authz's own Deployment, Service and ConfigMap

type k8sObject struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Data       map[string]string `json:"data"`
}

type service struct {
	Spec struct {
		Selector map[string]string `json:"selector"`
		Ports    []servicePort     `json:"ports"`
	} `json:"spec"`
}

type servicePort struct {
	Name        string `json:"name"`
	Port        int    `json:"port"`
	TargetPort  int    `json:"targetPort"`
	AppProtocol string `json:"appProtocol"`
}

type deployment struct {
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Template struct {
			Metadata objectMeta `json:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds int         `json:"terminationGracePeriodSeconds"`
				Containers                    []container `json:"containers"`
				Volumes                       []struct {
					Name      string `json:"name"`
					ConfigMap struct {
						Name string `json:"name"`
					} `json:"configMap"`
				} `json:"volumes"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

type container struct {
	Name  string   `json:"name"`
	Image string   `json:"image"`
	Args  []string `json:"args"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	StartupProbe   *probe `json:"startupProbe"`
	ReadinessProbe *probe `json:"readinessProbe"`
	LivenessProbe  *probe `json:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
	} `json:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port int    `json:"port"`
	} `json:"httpGet"`
	GRPC *struct {
		Port int `json:"port"`
	} `json:"grpc"`
}

// authzConfig is mcp-authz's config.yaml as the ConfigMap carries it. The
// keys are the ones the example promises; strict decoding rejects others.
type authzConfig struct {
	Listen      string `json:"listen"`
	AdminListen string `json:"admin_listen"`
	Resource    string `json:"resource"`
	MCPPath     string `json:"mcp_path"`
	Issuers     []struct {
		Issuer   string `json:"issuer"`
		JWKSFile string `json:"jwks_file"`
	} `json:"issuers"`
	RolesClaim        string `json:"roles_claim"`
	PolicyDenyStatus  int    `json:"policy_deny_status"`
	AdminListenPublic bool   `json:"admin_listen_public"`
	Shutdown          struct {
		LameDuck string `json:"lame_duck"`
		Timeout  string `json:"timeout"`
	} `json:"shutdown"`
}

// manifests is deployment.yaml decoded, one object of each kind.
type manifests struct {
	objects    map[string]k8sObject
	service    service
	deployment deployment
	config     authzConfig
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{objects: map[string]k8sObject{}}
	for _, doc := range splitDocs(t, deploymentFile) {
		var o k8sObject
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatalf("yaml.Unmarshal(%s) = %v; want nil", deploymentFile, err)
		}
		if _, dup := m.objects[o.Kind]; dup {
			t.Fatalf("%s has two %s objects; want one", deploymentFile, o.Kind)
		}
		m.objects[o.Kind] = o
		decodeKind(t, o.Kind, doc, &m)
	}
	for _, kind := range []string{"ConfigMap", "Service", "Deployment"} {
		if _, ok := m.objects[kind]; !ok {
			t.Fatalf("%s has no %s; kinds: %v", deploymentFile, kind, mapKeys(m.objects))
		}
	}
	return m
}

func decodeKind(t *testing.T, kind string, doc []byte, m *manifests) {
	t.Helper()
	var err error
	switch kind {
	case "Service":
		err = yaml.Unmarshal(doc, &m.service)
	case "Deployment":
		err = yaml.Unmarshal(doc, &m.deployment)
	case "ConfigMap":
		var cm k8sObject
		if err = yaml.Unmarshal(doc, &cm); err == nil {
			strict(t, deploymentFile+" ConfigMap config.yaml", []byte(cm.Data["config.yaml"]), &m.config)
		}
	default:
		t.Fatalf("%s has unexpected kind %q; want ConfigMap, Service, Deployment", deploymentFile, kind)
	}
	if err != nil {
		t.Fatalf("yaml.Unmarshal(%s %s) = %v; want nil", deploymentFile, kind, err)
	}
}

func TestIstioAuthzConfigKeys(t *testing.T) {
	c := loadManifests(t).config
	res, err := url.Parse(c.Resource)
	if err != nil {
		t.Fatalf("url.Parse(resource %q) = %v; want nil", c.Resource, err)
	}
	tests := []row{
		{"listen", c.Listen, "0.0.0.0:9191"},
		{"admin_listen", c.AdminListen, "0.0.0.0:9192"},
		{"resource is https with no query or fragment", res.Scheme == "https" && res.Host != "" && res.RawQuery == "" && res.Fragment == "", true},
		{"mcp_path is the resource's path", c.MCPPath, res.Path},
		{"issuers set", len(c.Issuers) > 0, true},
		{"roles_claim set", c.RolesClaim != "", true},
		{"policy_deny_status is 200 or 403", c.PolicyDenyStatus == 200 || c.PolicyDenyStatus == 403, true},
	}
	for i, is := range c.Issuers {
		u, err := url.Parse(is.Issuer)
		tests = append(tests,
			row{fmt.Sprintf("issuers[%d].issuer is https", i), err == nil && u.Scheme == "https" && u.Host != "", true},
			row{fmt.Sprintf("issuers[%d].jwks_file is absolute", i), path.IsAbs(is.JWKSFile), true})
	}
	checkRows(t, "config.yaml", tests)
}

// TestIstioManifestsAgree cross-checks the numbers and names that must line
// up across meshconfig.yaml, authorizationpolicy.yaml and deployment.yaml.
func TestIstioManifestsAgree(t *testing.T) {
	m := loadManifests(t)
	_, p := provider(t)
	ap := loadPolicy(t)
	svcObj, c := m.objects["Service"], mainContainer(t, m.deployment)
	listenPort, adminPort := port(t, m.config.Listen), port(t, m.config.AdminListen)
	svcPort := grpcServicePort(t, m.service)
	tests := []row{
		{"provider service is the Service's cluster name", p.Service,
			fmt.Sprintf("%s.%s.svc.cluster.local", svcObj.Metadata.Name, svcObj.Metadata.Namespace)},
		{"provider port is the Service port", int(p.Port), svcPort.Port},
		{"Service targetPort is config listen port", svcPort.TargetPort, listenPort},
		{"Service appProtocol (HTTP/2 for gRPC)", svcPort.AppProtocol, "grpc"},
		{"container exposes listen port", hasContainerPort(c, listenPort), true},
		{"container exposes admin port", hasContainerPort(c, adminPort), true},
		{"readinessProbe", probeString(c.ReadinessProbe), fmt.Sprintf("GET :%d/readyz", adminPort)},
		{"livenessProbe", probeString(c.LivenessProbe), fmt.Sprintf("GET :%d/healthz", adminPort)},
		{"startupProbe", probeString(c.StartupProbe), fmt.Sprintf("grpc :%d", listenPort)},
		{"Deployment selector matches pod labels", isSubset(m.deployment.Spec.Selector.MatchLabels, podLabels(m)), true},
		{"Service selector matches pod labels", isSubset(m.service.Spec.Selector, podLabels(m)), true},
		{"policy does not select mcp-authz itself", isSubset(ap.Spec.Selector.MatchLabels, podLabels(m)), false},
		{"policy in the Service's namespace", ap.Metadata.Namespace, svcObj.Metadata.Namespace},
		{"config file is mounted and passed", configArgMounted(m, c), true},
		{"admin port beyond loopback is declared (kubelet probes)", m.config.AdminListenPublic, true},
		{"grace period covers lame duck + drain + 5s", m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds >=
			int((dur(t, m.config.Shutdown.LameDuck)+dur(t, m.config.Shutdown.Timeout)+5*time.Second)/time.Second), true},
	}
	for i, is := range m.config.Issuers {
		tests = append(tests, row{fmt.Sprintf("issuers[%d].jwks_file is under a volume mount", i), underMount(c, is.JWKSFile), true})
	}
	checkRows(t, "istio manifests:", tests)
}

// dur parses a duration of the example config.
func dur(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("time.ParseDuration(%q) = %v; want nil", s, err)
	}
	return d
}

func mainContainer(t *testing.T, d deployment) container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Deployment has %d containers; want 1 (the sidecar is injected)", len(cs))
	}
	return cs[0]
}

func grpcServicePort(t *testing.T, s service) servicePort {
	t.Helper()
	if len(s.Spec.Ports) != 1 {
		t.Fatalf("Service ports = %+v; want exactly the gRPC port (admin stays off the Service)", s.Spec.Ports)
	}
	return s.Spec.Ports[0]
}

func port(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("net.SplitHostPort(%q) = %v; want nil", hostport, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("strconv.Atoi(%q) = %v; want nil", p, err)
	}
	return n
}

func hasContainerPort(c container, port int) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == port {
			return true
		}
	}
	return false
}

func probeString(p *probe) string {
	switch {
	case p == nil:
		return "none"
	case p.HTTPGet != nil:
		return fmt.Sprintf("GET :%d%s", p.HTTPGet.Port, p.HTTPGet.Path)
	case p.GRPC != nil:
		return fmt.Sprintf("grpc :%d", p.GRPC.Port)
	}
	return "other"
}

func podLabels(m manifests) map[string]string { return m.deployment.Spec.Template.Metadata.Labels }

// isSubset reports whether every label in sel is in labels (a non-empty
// selector matching them).
func isSubset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// configArgMounted reports whether the container runs "serve" with a
// --config flag naming config.yaml inside the mount of the ConfigMap volume.
func configArgMounted(m manifests, c container) bool {
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		return false
	}
	cmName := m.objects["ConfigMap"].Metadata.Name
	var volume string
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		if v.ConfigMap.Name == cmName {
			volume = v.Name
		}
	}
	for _, vm := range c.VolumeMounts {
		flag := "-config=" + path.Join(vm.MountPath, "config.yaml")
		if vm.Name == volume && (slices.Contains(c.Args, flag) || slices.Contains(c.Args, "-"+flag)) {
			return true
		}
	}
	return false
}

func underMount(c container, file string) bool {
	for _, vm := range c.VolumeMounts {
		if strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") {
			return true
		}
	}
	return false
}

// TestExamplesHaveNoTabs guards the hand-edited files: a tab in YAML
// indentation is an error in kubectl and easy to miss in review.
func TestExamplesHaveNoTabs(t *testing.T) {
	for _, f := range []string{envoyFile, meshConfigFile, authzPolicy, deploymentFile, envoyFilterFile} {
		t.Run(f, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("ReadFile(%q) = %v; want nil", f, err)
			}
			if i := bytes.IndexByte(raw, '\t'); i >= 0 {
				t.Errorf("%s has a tab at byte %d; want spaces only", f, i)
			}
		})
	}
}
