// Runs the official TypeScript MCP SDK client against MCP_URL (the
// Envoy-shaped gate in front of mcp-authz) with the bearer token MCP_TOKEN,
// and prints what it observed as one JSON object on stdout. The Go test
// TestRealClientTypeScript* starts the stack, runs this script and judges
// the observations; the script itself asserts nothing.
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.MCP_URL);
const token = process.env.MCP_TOKEN;
const out = {};

// step records the outcome of one call: its value or its error.
async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: { code: e.code ?? null, message: String(e.message ?? e) } };
  }
}

const transport = new StreamableHTTPClientTransport(url, {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: 'mcp-authz-tsclient', version: '1.0.0' });

await step('connect', async () => {
  await client.connect(transport);
  return { protocolVersion: transport.protocolVersion ?? null, sessionId: transport.sessionId ?? null };
});
await step('tools', async () => (await client.listTools()).tools.map((t) => t.name).sort());
await step('allowed', async () => (await client.callTool({ name: 'search_issues', arguments: { query: 'x' } })).content[0].text);
await step('denied', async () => (await client.callTool({ name: 'create_issue', arguments: { repo: 'acme/api', title: 't' } })).content[0].text);
await step('afterDeny', async () => (await client.callTool({ name: 'search_issues', arguments: { query: 'y' } })).content[0].text);
await step('resource', async () => (await client.readResource({ uri: 'issues://acme/api/1' })).contents[0].text);
await step('prompt', async () => (await client.getPrompt({ name: 'triage', arguments: { issue: '7' } })).messages[0].content.text);
await step('streamed', async () => {
  const progress = [];
  const res = await client.callTool(
    { name: 'run_query', arguments: { database: 'analytics', sql: 'select 1' } },
    undefined,
    { onprogress: (p) => progress.push(p.progress) },
  );
  const text = res.content[0].text;
  return { progress, bytes: text.length, sha256: createHash('sha256').update(text).digest('hex') };
});
await step('terminate', async () => {
  await transport.terminateSession();
  return 'ok';
});
await client.close();
process.stdout.write(JSON.stringify(out) + '\n');
