package examples_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"sigs.k8s.io/yaml"
)

const (
	envoyRateLimitFile = "envoy/envoy-ratelimit.yaml"
	rateLimitConfFile  = "envoy/ratelimit-config.yaml"
	rateLimitFilter    = "envoy.filters.http.ratelimit"
	routerFilter       = "envoy.filters.http.router"
)

// metadataKeys are the dynamic_metadata members the default policy sets
// on an allow (policies/decision.rego, "metadata"); the example may read
// only these.
var metadataKeys = []string{"user", "tenant", "tool_id", "method", "sub"}

// loadRateLimitBootstrap reads envoy-ratelimit.yaml as Envoy would, with
// the ratelimit filter's types known besides envoy.yaml's.
func loadRateLimitBootstrap(t *testing.T) (*bootstrapv3.Bootstrap, *protoregistry.Types) {
	t.Helper()
	types := envoyTypes(t)
	for _, m := range []proto.Message{&ratelimitv3.RateLimit{}, &ratelimitv3.RateLimitPerRoute{}} {
		if err := types.RegisterMessage(m.ProtoReflect().Type()); err != nil {
			t.Fatalf("RegisterMessage(%T) = %v; want nil", m, err)
		}
	}
	raw, err := os.ReadFile(envoyRateLimitFile)
	if err != nil {
		t.Fatalf("ReadFile(%q) = %v; want nil", envoyRateLimitFile, err)
	}
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		t.Fatalf("YAMLToJSONStrict(%q) = %v; want nil", envoyRateLimitFile, err)
	}
	b := new(bootstrapv3.Bootstrap)
	if err := (protojson.UnmarshalOptions{Resolver: types}).Unmarshal(js, b); err != nil {
		t.Fatalf("protojson.Unmarshal(%q) = %v; want nil", envoyRateLimitFile, err)
	}
	return b, types
}

func TestEnvoyRateLimitConfigValidates(t *testing.T) {
	b, types := loadRateLimitBootstrap(t)
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
			var found []string
			deprecatedFields(n.path, n.msg.ProtoReflect(), &found)
			if len(found) > 0 {
				t.Errorf("%s sets deprecated fields or enum values: %v; want none", n.path, found)
			}
		})
	}
}

// rateLimitParts are the pieces of envoy-ratelimit.yaml the tests look at.
type rateLimitParts struct {
	hcm       *hcmv3.HttpConnectionManager
	extAuthz  *extauthzv3.ExtAuthz
	rateLimit *ratelimitv3.RateLimit
	mcpRoute  *routev3.Route
	clusters  []string
}

func rateLimitConfig(t *testing.T) rateLimitParts {
	t.Helper()
	b, types := loadRateLimitBootstrap(t)
	res := b.GetStaticResources()
	if n := len(res.GetListeners()); n != 1 {
		t.Fatalf("len(listeners) = %d; want 1", n)
	}
	p := rateLimitParts{hcm: listenerHCM(t, res.GetListeners()[0], types)}
	for _, f := range p.hcm.GetHttpFilters() {
		switch f.GetName() {
		case extAuthzFilter:
			p.extAuthz = new(extauthzv3.ExtAuthz)
			unpack(t, f.GetTypedConfig(), p.extAuthz, types)
		case rateLimitFilter:
			p.rateLimit = new(ratelimitv3.RateLimit)
			unpack(t, f.GetTypedConfig(), p.rateLimit, types)
		}
	}
	if p.extAuthz == nil || p.rateLimit == nil {
		t.Fatalf("http_filters lack %q or %q; want both", extAuthzFilter, rateLimitFilter)
	}
	for _, vh := range p.hcm.GetRouteConfig().GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if r.GetName() == "mcp" {
				p.mcpRoute = r
			}
		}
	}
	if p.mcpRoute == nil {
		t.Fatal("no route named mcp")
	}
	for _, c := range res.GetClusters() {
		p.clusters = append(p.clusters, c.GetName())
	}
	return p
}

// TestEnvoyRateLimitFilterSettings: the decision runs first (it writes the
// metadata the descriptors read, and a denied call is never counted), both
// filters fail closed, and the rate-limit service's domain and cluster exist.
func TestEnvoyRateLimitFilterSettings(t *testing.T) {
	p := rateLimitConfig(t)
	var order []string
	for _, f := range p.hcm.GetHttpFilters() {
		order = append(order, f.GetName())
	}
	conf := loadRateLimitService(t)
	checkRows(t, envoyRateLimitFile, []row{
		{"http_filters", order, []string{extAuthzFilter, rateLimitFilter, routerFilter}},
		{"ext_authz.failure_mode_allow", p.extAuthz.GetFailureModeAllow(), false},
		{"ext_authz.status_on_error", p.extAuthz.GetStatusOnError().GetCode().String(), "ServiceUnavailable"},
		{"ext_authz.with_request_body.pack_as_bytes", p.extAuthz.GetWithRequestBody().GetPackAsBytes(), true},
		{"ext_authz.with_request_body.allow_partial_message", p.extAuthz.GetWithRequestBody().GetAllowPartialMessage(), false},
		{"ext_authz.clear_route_cache", p.extAuthz.GetClearRouteCache(), false},
		{"ratelimit.failure_mode_deny", p.rateLimit.GetFailureModeDeny(), true},
		{"ratelimit.domain", p.rateLimit.GetDomain(), conf.Domain},
		{"ratelimit.rate_limit_service.transport_api_version", p.rateLimit.GetRateLimitService().GetTransportApiVersion().String(), "V3"},
		{"ratelimit cluster defined", slices.Contains(p.clusters,
			p.rateLimit.GetRateLimitService().GetGrpcService().GetEnvoyGrpc().GetClusterName()), true},
		{"ext_authz cluster defined", slices.Contains(p.clusters, p.extAuthz.GetGrpcService().GetEnvoyGrpc().GetClusterName()), true},
	})
}

// rlService is envoyproxy/ratelimit's configuration file (its YamlRoot).
type rlService struct {
	Domain      string         `json:"domain"`
	Descriptors []rlDescriptor `json:"descriptors,omitempty"`
}

type rlDescriptor struct {
	Key         string         `json:"key"`
	Value       string         `json:"value,omitempty"`
	RateLimit   *rlLimit       `json:"rate_limit,omitempty"`
	Descriptors []rlDescriptor `json:"descriptors,omitempty"`
	ShadowMode  bool           `json:"shadow_mode,omitempty"`
}

type rlLimit struct {
	Unit            string `json:"unit,omitempty"`
	RequestsPerUnit uint32 `json:"requests_per_unit,omitempty"`
	Unlimited       bool   `json:"unlimited,omitempty"`
	Name            string `json:"name,omitempty"`
}

// loadRateLimitService decodes ratelimit-config.yaml strictly and checks
// what the service would refuse at load: an empty domain or key, an
// unknown unit, a duplicate key at one level.
func loadRateLimitService(t *testing.T) rlService {
	t.Helper()
	raw, err := os.ReadFile(rateLimitConfFile)
	if err != nil {
		t.Fatalf("ReadFile(%q) = %v; want nil", rateLimitConfFile, err)
	}
	var c rlService
	strict(t, rateLimitConfFile, raw, &c)
	if c.Domain == "" {
		t.Errorf("%s: empty domain", rateLimitConfFile)
	}
	checkDescriptors(t, c.Domain, c.Descriptors)
	return c
}

func checkDescriptors(t *testing.T, at string, ds []rlDescriptor) {
	t.Helper()
	seen := map[string]bool{}
	for _, d := range ds {
		k := d.Key + "_" + d.Value
		switch {
		case d.Key == "":
			t.Errorf("%s: descriptor with an empty key", at)
		case seen[k]:
			t.Errorf("%s: duplicate descriptor %q", at, k)
		}
		seen[k] = true
		if l := d.RateLimit; l != nil && !l.Unlimited &&
			(!slices.Contains([]string{"second", "minute", "hour", "day"}, l.Unit) || l.RequestsPerUnit == 0) {
			t.Errorf("%s.%s: rate_limit %+v; want a unit of second, minute, hour or day and requests_per_unit > 0", at, k, *l)
		}
		checkDescriptors(t, at+"."+k, d.Descriptors)
	}
}

// lookup finds the limit of a descriptor the way envoyproxy/ratelimit does:
// at each level the entry's key and value, else its key alone; the limit
// must be at the descriptor's last entry.
func (c rlService) lookup(entries [][2]string) *rlLimit {
	level := c.Descriptors
	for i, e := range entries {
		d := findDescriptor(level, e[0], e[1])
		if d == nil {
			return nil
		}
		if i == len(entries)-1 {
			return d.RateLimit
		}
		level = d.Descriptors
	}
	return nil
}

func findDescriptor(ds []rlDescriptor, key, value string) *rlDescriptor {
	for _, v := range []string{value, ""} {
		for i := range ds {
			if ds[i].Key == key && ds[i].Value == v {
				return &ds[i]
			}
		}
	}
	return nil
}

// descriptorOf builds the descriptor Envoy sends for one rate_limits entry
// given the ext_authz dynamic metadata md; false when Envoy sends none (a
// metadata action whose key is absent and has no default).
func descriptorOf(t *testing.T, rl *routev3.RateLimit, md map[string]string) ([][2]string, bool) {
	t.Helper()
	var out [][2]string
	for _, a := range rl.GetActions() {
		switch {
		case a.GetGenericKey() != nil:
			k := a.GetGenericKey().GetDescriptorKey()
			if k == "" {
				k = "generic_key"
			}
			out = append(out, [2]string{k, a.GetGenericKey().GetDescriptorValue()})
		case a.GetMetadata() != nil:
			m := a.GetMetadata()
			path := m.GetMetadataKey().GetPath()
			if m.GetMetadataKey().GetKey() != extAuthzFilter || len(path) != 1 || m.GetSource() != routev3.RateLimit_Action_MetaData_DYNAMIC ||
				!slices.Contains(metadataKeys, path[0].GetKey()) {
				t.Fatalf("metadata action %v; want source DYNAMIC, namespace %s and one of %v", m, extAuthzFilter, metadataKeys)
			}
			v, ok := md[path[0].GetKey()]
			if !ok {
				if m.GetDefaultValue() == "" {
					return nil, false
				}
				v = m.GetDefaultValue()
			}
			out = append(out, [2]string{m.GetDescriptorKey(), v})
		default:
			t.Fatalf("rate_limits action %v; the example uses generic_key and metadata only", a)
		}
	}
	return out, true
}

// TestEnvoyRateLimitDescriptorsHaveLimits sends mcp-authz's dynamic
// metadata of three allowed calls through the route's rate_limits and
// looks each descriptor up in the service's configuration: every one sent
// has a limit, the run_query override wins, and a caller without a tenant
// sends no tenant descriptor.
func TestEnvoyRateLimitDescriptorsHaveLimits(t *testing.T) {
	p := rateLimitConfig(t)
	conf := loadRateLimitService(t)
	rls := p.mcpRoute.GetRoute().GetRateLimits()
	if len(rls) == 0 {
		t.Fatal("the mcp route has no rate_limits")
	}
	calls := []struct {
		name string
		md   map[string]string
		want map[string]uint32 // generic_key → requests_per_unit of the limit found
	}{
		{"run_query in a tenant", map[string]string{"user": "alice", "tenant": "acme", "tool_id": "issues/run_query", "method": "tools/call"},
			map[string]uint32{"per_user": 600, "per_user_tool": 10, "per_tenant": 100000}},
		{"search without a tenant", map[string]string{"user": "bob", "tool_id": "issues/search_issues", "method": "tools/call"},
			map[string]uint32{"per_user": 600, "per_user_tool": 120}},
		{"tools/list", map[string]string{"user": "carol", "method": "tools/list"}, map[string]uint32{"per_user": 600}},
	}
	for _, c := range calls {
		got := map[string]uint32{}
		for _, rl := range rls {
			d, sent := descriptorOf(t, rl, c.md)
			if !sent {
				continue
			}
			l := conf.lookup(d)
			if l == nil {
				t.Errorf("%s: descriptor %v has no limit in %s", c.name, d, rateLimitConfFile)
				continue
			}
			got[d[0][1]] = l.RequestsPerUnit
		}
		checkRows(t, c.name, []row{{"limits", got, c.want}})
	}
}

// TestEnvoyRateLimitReadsPolicyMetadata guards metadataKeys: the default
// policy still sets each member the example reads.
func TestEnvoyRateLimitReadsPolicyMetadata(t *testing.T) {
	src, err := os.ReadFile("../policies/decision.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"user", "tenant", "tool_id"} {
		if !strings.Contains(string(src), `{"`+k+`":`) && !strings.Contains(string(src), `"`+k+`": `) {
			t.Errorf("policies/decision.rego no longer sets dynamic_metadata member %q, which %s reads", k, envoyRateLimitFile)
		}
	}
}
