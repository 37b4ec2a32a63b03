package mcp.authz.delegation_test

import data.mcp.authz.delegation

planner := {"sub": "spiffe://cluster.local/ns/agents/sa/planner"}

worker := {"sub": "spiffe://cluster.local/ns/agents/sa/worker"}

user_app := {"sub": "app-1", "iss": "https://auth.example.test"}

principal(act) := {"sub": "alice", "act": act}

test_allow_empty_chain if {
	delegation.depth_allowed with input as {"principal": principal([])}
	delegation.actor_allowed with input as {"principal": principal([])}
}

test_allow_absent_chain if {
	delegation.depth_allowed with input as {"principal": {"sub": "alice"}}
}

test_allow_chain_at_the_default_depth if {
	delegation.depth_allowed with input as {"principal": principal([planner, worker, user_app, planner])}
}

test_deny_chain_past_the_default_depth if {
	not delegation.depth_allowed with input as {"principal": principal([planner, worker, user_app, planner, worker])}
}

test_deny_chain_past_the_configured_depth if {
	not delegation.depth_allowed with input as {"principal": principal([planner, worker])}
		with data.mcp.settings as {"max_delegation_depth": 1}
}

test_deny_chain_not_a_list if {
	not delegation.depth_allowed with input as {"principal": {"sub": "alice", "act": {"sub": "x"}}}
}

test_allow_actor_named_by_may_act if {
	delegation.actor_allowed with input as {"principal": object.union(principal([planner, worker]), {"may_act": planner})}
}

test_deny_actor_not_named_by_may_act if {
	not delegation.actor_allowed with input as {"principal": object.union(principal([worker, planner]), {"may_act": planner})}
}

test_deny_may_act_without_an_actor if {
	not delegation.actor_allowed with input as {"principal": object.union(principal([]), {"may_act": planner})}
}

test_allow_may_act_issuer_matches if {
	delegation.actor_allowed with input as {"principal": object.union(principal([user_app]), {"may_act": user_app})}
}

test_deny_may_act_issuer_differs if {
	other := {"sub": "app-1", "iss": "https://other.example.test"}
	not delegation.actor_allowed with input as {"principal": object.union(principal([user_app]), {"may_act": other})}
}

test_allow_prior_actors_not_judged if {
	# may_act names the current actor; who acted before is informational.
	intruder := {"sub": "spiffe://cluster.local/ns/evil/sa/x"}
	delegation.actor_allowed with input as {"principal": object.union(principal([planner, intruder]), {"may_act": planner})}
}
