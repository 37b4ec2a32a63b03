# METADATA
# title: Manifest
# description: >-
#   The manifest pin of a tools/call's tool: the registry must hold an approved
#   SHA-256 of the tool's manifest (RFC 8785 canonical form): content_hash in
#   the SEP-3140 form "sha256-<base64url>", or the deprecated hex sha256. Drift
#   watch must not have seen the live server announce a different one. An
#   absent verdict counts against the tool.
package mcp.authz.manifest

import data.mcp.authz.tools

# METADATA
# title: Approved
# description: >-
#   True when Go reports the manifest approved and the registry entry carries a
#   well-formed pin.
approved if {
	input.tool.approved == true
	pinned
}

# METADATA
# title: Pinned
# description: >-
#   True when the registry entry carries a well-formed content_hash
#   ("sha256-" and 43 base64url characters) or a lower-case hex sha256.
# scope: document
pinned if regex.match(`^sha256-[A-Za-z0-9_-]{43}$`, tools.entry.content_hash)

pinned if regex.match(`^[0-9a-f]{64}$`, tools.entry.sha256)

# METADATA
# title: Current
# description: True when drift watch reported the live manifest equal to the approved one.
current if input.tool.drifted == false

# METADATA
# title: Drifted
# description: True unless the manifest is known to be current (fail closed).
drifted if not current

# METADATA
# title: Content hash mismatch
# description: >-
#   True when drift watch saw the live server advertise a contentHash its own
#   definition does not have: drift, whatever the pin says.
content_hash_mismatch if {
	drifted
	input.tool.drift_reason == "content_hash_mismatch"
}
