package mcp

// The data of the protocol: which revisions are live, which methods a client
// may send to a server in each, and which member names the protocol defines
// at the positions Parse inspects. Sources: the MCP specification's
// schema/<revision>/schema.ts (ClientRequest and ClientNotification unions)
// and, for 2026-07-28, basic/transports/streamable-http.mdx.

// revisions lists the live revisions, oldest first.
var revisions = []Revision{Rev20250618, Rev20251125, Rev20260728}

// clientMethods lists, per revision, the methods a client sends to a server:
// requests and notifications.
var clientMethods = map[Revision][]string{
	Rev20250618: {
		"initialize", "ping",
		"tools/list", "tools/call",
		"resources/list", "resources/templates/list", "resources/read",
		"resources/subscribe", "resources/unsubscribe",
		"prompts/list", "prompts/get",
		"logging/setLevel", "completion/complete",
		"notifications/initialized", "notifications/cancelled",
		"notifications/progress", "notifications/roots/list_changed",
	},
	Rev20251125: {
		"initialize", "ping",
		"tools/list", "tools/call",
		"resources/list", "resources/templates/list", "resources/read",
		"resources/subscribe", "resources/unsubscribe",
		"prompts/list", "prompts/get",
		"logging/setLevel", "completion/complete",
		"tasks/get", "tasks/result", "tasks/list", "tasks/cancel",
		"notifications/initialized", "notifications/cancelled",
		"notifications/progress", "notifications/roots/list_changed",
		"notifications/tasks/status",
	},
	// Stateless: no initialize, ping, logging/setLevel or resources/subscribe;
	// server/discover and subscriptions/listen are new. The schema keeps
	// notifications/cancelled as the one client notification (stdio only).
	Rev20260728: {
		"server/discover",
		"tools/list", "tools/call",
		"resources/list", "resources/templates/list", "resources/read",
		"prompts/list", "prompts/get",
		"completion/complete", "subscriptions/listen",
		"notifications/cancelled",
	},
}

// nameRequired lists the 2026-07-28 requests whose Mcp-Name header mirrors
// params.name or params.uri.
var nameRequired = map[string]bool{
	"tools/call":     true,
	"resources/read": true,
	"prompts/get":    true,
}

// Member names the protocol defines at the positions Parse inspects. A member
// that differs from one of these only in case is refused: a decoder that
// matches names case-insensitively would read it as the protocol member.
var (
	topMembers   = byteList("jsonrpc", "id", "method", "params", "result", "error")
	errorMembers = byteList("code", "message", "data")
	paramMembers = byteList(
		"name", "arguments", "uri", "_meta", "protocolVersion", "capabilities",
		"clientInfo", "cursor", "level", "ref", "argument", "context", "taskId",
		"requestId", "reason", "progressToken", "progress", "total", "message",
		"task", "notifications", "inputResponses", "requestState",
	)
	metaMembers = byteList(
		"progressToken", metaProtocolVersion,
		"io.modelcontextprotocol/clientInfo",
		"io.modelcontextprotocol/clientCapabilities",
		"io.modelcontextprotocol/logLevel",
		"io.modelcontextprotocol/related-task",
		"io.modelcontextprotocol/subscriptionId",
	)
)

// metaProtocolVersion is the params._meta key carrying a request's revision.
const metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"

// knownMethods and interned are built from clientMethods.
var (
	knownMethods = map[Revision]map[string]bool{}
	interned     = map[string]string{}
)

func init() {
	for rev, list := range clientMethods {
		set := make(map[string]bool, len(list))
		for _, m := range list {
			set[m] = true
			interned[m] = m
		}
		knownMethods[rev] = set
	}
	for _, rev := range revisions {
		interned[string(rev)] = string(rev)
	}
}

func byteList(names ...string) [][]byte {
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = []byte(n)
	}
	return out
}

// intern returns a protocol string (a known method or revision) without
// allocating, and a new string for anything else.
func intern(b []byte) string {
	if s, ok := interned[string(b)]; ok {
		return s
	}
	return string(b)
}

// ParseRevision returns s as a Revision when it is one of the live revisions
// this package supports (2025-06-18, 2025-11-25, 2026-07-28).
func ParseRevision(s string) (Revision, bool) {
	for _, r := range revisions {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

// SupportedRevisions returns the live revisions, oldest first; the caller
// owns the slice (it lists them in UnsupportedProtocolVersion errors).
func SupportedRevisions() []Revision {
	return append([]Revision(nil), revisions...)
}

// KnownMethod reports whether method is a client-to-server request or
// notification of revision rev. It is false for any revision that
// ParseRevision does not accept.
func KnownMethod(rev Revision, method string) bool {
	return knownMethods[rev][method]
}
