package extauthz

import (
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mcp-authz/mcp-authz/pkg/denial"
	"github.com/mcp-authz/mcp-authz/pkg/mcp"
)

// Namespaces under which Envoy's MCP filter (envoy.filters.http.mcp)
// writes its view of the request as dynamic metadata, which ext_authz
// forwards in metadata_context.filter_metadata when the namespaces are
// listed in its metadata_context_namespaces. Since Envoy 1.38 the filter
// writes the first; the second only with its runtime guard turned off.
const (
	MCPFilterNamespace       = "envoy.filters.http.mcp"
	LegacyMCPFilterNamespace = "mcp_proxy"
)

// mcpFilterResponse is the method the MCP filter reports for a JSON-RPC
// response (a message without a method).
const mcpFilterResponse = "__jsonrpc_response"

// checkFilterMetadata compares the MCP filter's view of the message, under
// each namespace present, with our own parse: the method, the id, and the
// name or uri the method carries. Any disagreement means two parsers read
// the same bytes differently, which is how a smuggled call hides from one
// of them, so it is a deny (mcp_metadata_mismatch). Members the filter did
// not extract, or that it extracts by custom rules, are not compared; with
// no filter metadata at all nothing is compared and our parse stands alone.
func checkFilterMetadata(fm map[string]*structpb.Struct, msg *mcp.Message) error {
	for _, ns := range []string{MCPFilterNamespace, LegacyMCPFilterNamespace} {
		md, ok := fm[ns]
		if !ok {
			continue
		}
		if field, err := compareFilterView(md.GetFields(), msg); err != nil {
			return denial.New(denial.MCPMetadataMismatch, fmt.Errorf("envoy MCP filter metadata %s.%s: %w", ns, field, err))
		}
	}
	return nil
}

// compareFilterView returns the first member of the filter's view that
// disagrees with msg, and why.
func compareFilterView(f map[string]*structpb.Value, msg *mcp.Message) (string, error) {
	if v, ok := f["is_mcp_request"]; ok && (msg.Kind == mcp.KindRequest || msg.Kind == mcp.KindNotification) {
		if b, isBool := v.GetKind().(*structpb.Value_BoolValue); !isBool || !b.BoolValue {
			return "is_mcp_request", fmt.Errorf("is %v for a JSON-RPC %s", v.AsInterface(), msg.Kind)
		}
	}
	if v, ok := f["jsonrpc"]; ok && v.GetStringValue() != "2.0" {
		return "jsonrpc", fmt.Errorf("is %v", v.AsInterface())
	}
	if v, ok := f["method"]; ok {
		if err := sameMethod(v, msg); err != nil {
			return "method", err
		}
	}
	if v, ok := f["id"]; ok {
		if err := sameID(v, msg.ID); err != nil {
			return "id", err
		}
	}
	if v, ok := f["params"]; ok {
		return compareParams(v, msg)
	}
	return "", nil
}

// sameMethod checks the filter's method against ours.
func sameMethod(v *structpb.Value, msg *mcp.Message) error {
	s, ok := v.GetKind().(*structpb.Value_StringValue)
	switch {
	case !ok:
		return fmt.Errorf("is not a string")
	case msg.Kind == mcp.KindResponse && s.StringValue == mcpFilterResponse:
		return nil
	case s.StringValue != msg.Method:
		return fmt.Errorf("%q differs from %q", s.StringValue, msg.Method)
	}
	return nil
}

// sameID checks the filter's id (a string, or a number as a double)
// against the id we parsed.
func sameID(v *structpb.Value, id json.RawMessage) error {
	if len(id) == 0 {
		return fmt.Errorf("present where the message has none")
	}
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		var ours string
		if json.Unmarshal(id, &ours) != nil || ours != k.StringValue {
			return fmt.Errorf("string differs from %s", id)
		}
	case *structpb.Value_NumberValue:
		ours, err := strconv.ParseFloat(string(id), 64)
		if err != nil || ours != k.NumberValue {
			return fmt.Errorf("number differs from %s", id)
		}
	default:
		return fmt.Errorf("is neither a string nor a number")
	}
	return nil
}

// paramByMethod is the params member each method's name is read from, as
// both parsers extract it.
var paramByMethod = map[string]string{
	"tools/call":            "name",
	"prompts/get":           "name",
	"resources/read":        "uri",
	"resources/subscribe":   "uri",
	"resources/unsubscribe": "uri",
}

// compareParams checks params.name or params.uri, whichever the method
// carries.
func compareParams(v *structpb.Value, msg *mcp.Message) (string, error) {
	p, ok := v.GetKind().(*structpb.Value_StructValue)
	if !ok {
		return "params", fmt.Errorf("is not an object")
	}
	member, ok := paramByMethod[msg.Method]
	if !ok {
		return "", nil
	}
	got, present := p.StructValue.GetFields()[member]
	if !present {
		return "", nil
	}
	if s, isString := got.GetKind().(*structpb.Value_StringValue); !isString || s.StringValue != msg.Name {
		return "params." + member, fmt.Errorf("%v differs from %q", got.AsInterface(), msg.Name)
	}
	return "", nil
}
