# METADATA
# title: Annotations
# description: >-
#   Tool classes from the MCP tool annotations of the approved, pinned manifest
#   (input.tool.annotations; Go copies them from the registry, never from the
#   request or a live tools/list). Absent hints take the MCP defaults:
#   readOnlyHint false, destructiveHint true, idempotentHint false,
#   openWorldHint true; destructiveHint and idempotentHint mean something only
#   when readOnlyHint is false. So an unannotated tool is destructive and
#   belongs to no class a grant can name.
package mcp.authz.annotations

# METADATA
# title: Hints
# description: The approved manifest's hints ({} for a tool that is not approved).
hints := object.get(input, ["tool", "annotations"], {}) if input.tool.approved == true

default hints := {}

# METADATA
# title: Read-only
# description: True when the pinned manifest sets readOnlyHint to true.
read_only if hints.readOnlyHint == true

# METADATA
# title: Destructive
# description: True unless the tool is read-only or the pin sets destructiveHint to false (fail closed).
destructive if {
	not read_only
	object.get(hints, "destructiveHint", true) != false
}

# METADATA
# title: Idempotent
# description: True when the tool is read-only or the pin sets idempotentHint to true.
# scope: document
idempotent if read_only

idempotent if hints.idempotentHint == true

# METADATA
# title: Closed world
# description: True when the pin sets openWorldHint to false.
closed_world if hints.openWorldHint == false

# METADATA
# title: Classes
# description: >-
#   The classes of the tool that a role's tool_classes grant can name as
#   "<server>/<class>": read_only, non_destructive, idempotent, closed_world.
# scope: document
classes contains "read_only" if read_only

classes contains "non_destructive" if not destructive

classes contains "idempotent" if idempotent

classes contains "closed_world" if closed_world
