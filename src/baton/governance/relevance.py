"""Which context keys can change a policy's answer, so identical questions are asked once.

Service and agent attributes are fixed for a configuration, so Cedar's answer for one
(agent, action, resource) depends only on the context keys that the policies which can
apply to that action read. Two requests that agree on those keys get the same answer.
"""

from __future__ import annotations

from typing import Any


class ReadsWholeContext(Exception):
    """A policy uses `context` other than through `.key` or `has key`."""


def context_keys(node: Any) -> set[str]:
    """The context keys a policy's JSON body reads."""
    found: set[str] = set()
    _walk(node, found)
    return found


def _walk(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for op in (".", "has"):
            inner = node.get(op)
            if isinstance(inner, dict) and inner.get("left") == {"Var": "context"}:
                found.add(str(inner["attr"]))
                return
        if node.get("Var") == "context":
            raise ReadsWholeContext
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found)


def reads_resource(body: dict[str, Any]) -> bool:
    """True when a policy's scope or conditions look at which resource it is."""
    return body.get("resource", {}).get("op", "All") != "All" or \
        _mentions(body.get("conditions", []), "resource")


def _mentions(node: Any, var: str) -> bool:
    if isinstance(node, dict):
        return node.get("Var") == var or any(_mentions(v, var) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(item, var) for item in node)
    return False


def action_scope(body: dict[str, Any]) -> set[str] | None:
    """The action kinds a policy can apply to, or None for any."""
    scope = body.get("action", {})
    op = scope.get("op")
    if op == "==":
        return {str(scope["entity"]["id"])}
    if op == "in" and "entities" in scope:
        return {str(e["id"]) for e in scope["entities"]}
    return None


class Relevance:
    """Per action kind, the context keys any applicable policy reads (None = all of them)."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        self.any_action: set[str] | None = set()
        self.by_action: dict[str, set[str] | None] = {}
        self._memo: dict[str, tuple[str, ...] | None] = {}
        # action kinds (None: any) with a policy that reads the resource itself
        self._by_resource: set[str | None] = set()
        for body in bodies:
            try:
                keys: set[str] | None = context_keys(body.get("conditions", []))
            except ReadsWholeContext:
                keys = None
            scope = action_scope(body)
            targets = [None] if scope is None else sorted(scope)
            if reads_resource(body):
                self._by_resource.update(targets)
            for target in targets:
                current = self.any_action if target is None else self.by_action.get(target,
                                                                                    set())
                merged = None if current is None or keys is None else current | keys
                if target is None:
                    self.any_action = merged
                else:
                    self.by_action[target] = merged

    def keys_for(self, action: str) -> tuple[str, ...] | None:
        """Sorted context keys that can matter for `action`, or None when all can."""
        if action in self._memo:
            return self._memo[action]
        own = self.by_action.get(action, set())
        keys = None if own is None or self.any_action is None else \
            tuple(sorted(own | self.any_action))
        self._memo[action] = keys
        return keys

    def resource_matters(self, action: str) -> bool:
        """False when no policy that can apply to `action` looks at the resource itself
        (its id, attributes or place in the hierarchy), so only its type and the context
        can change the answer."""
        return None in self._by_resource or action in self._by_resource
