"""A Cedar error points at the line of the statement where the mistake is."""

from __future__ import annotations

import pytest

from baton.errors import PolicyError
from baton.governance.policies import PolicyBook

HEAD = '@id("ok") @verdict("autonomous")\npermit (principal, action, resource);\n\n'


@pytest.mark.parametrize(("body", "line"), [
    ('@id("p") @verdict("autonomous")\npermit (principal, action, resource)\n'
     'whn { context.risk > 1 };\n', 6),
    ('@id("p") @verdict("autonomous")\npermit (principal, action, resource)\n'
     'when { contxt.risk > 1 };\n', 6),
    ('@id("p") @verdict("autonomous")\npermit (principal, action == Action::"a",\n'
     '  resource)\nwhen { context.risk = 1 };\n', 7),
])
def test_a_typo_is_reported_on_its_own_line(body: str, line: int) -> None:
    with pytest.raises(PolicyError) as caught:
        PolicyBook([("policies/p.cedar", HEAD + body)])
    assert f"p.cedar:{line}" in str(caught.value), str(caught.value)
