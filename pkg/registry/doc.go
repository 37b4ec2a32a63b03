// Package registry is mcp-authz's allowlist of MCP tools.
//
// Tools are never discovered at request time: a tool may run only when the
// policy bundle lists it under data.mcp.servers.<server>.tools.<tool> with an
// approved manifest, the whole tool definition an operator reviewed, and the
// lower-case hex SHA-256 of its RFC 8785 (JCS) canonical form. Its canonical
// ID is "<server>/<tool>". Hashing the whole definition (name, title,
// description, inputSchema, outputSchema, annotations, _meta) rather than
// the description alone is what catches a "rug pull" that widens a schema.
//
// The package has three parts:
//
//   - Load builds an immutable Registry snapshot from a bundle's data.mcp,
//     once per bundle revision: it recomputes every hash (a mismatch refuses
//     the bundle) and compiles every approved inputSchema once. Check then
//     answers, per tools/call, whether the tool is registered, approved,
//     drifted, and whether its arguments match the approved schema.
//   - FetchTools, Pin, Diff, ReadServerFile and WriteServerFile implement
//     "registry pin" and "registry verify": read a live server's tools with
//     the official MCP Go SDK and write or compare the approved file
//     policies/mcp/servers/<server>/data.json.
//   - Watcher polls live servers and reports approved tools whose live
//     definition no longer matches (a DriftSource for Check).
//
// Cost bounds. Check validates arguments that pkg/mcp already bounded in
// bytes and nesting depth. Schemas are bounded by Options.MaxSchemaBytes and
// the JCS depth limit; the validator uses Go's linear-time regexp engine and
// a hashing uniqueItems check, so one validation costs about
// O(schema size × argument size). Schemas never load anything remote: only
// references inside the same schema (and the embedded JSON Schema
// meta-schemas) resolve. Each Registry remembers validation results per
// (tool, exact arguments) in a bounded LRU (argmemo.go), so a repeated call
// costs one canonical encoding and a lookup.
//
// The package imports neither pkg/policy nor pkg/extauthz; it is pure data,
// lookups, and the tooling around them.
package registry
