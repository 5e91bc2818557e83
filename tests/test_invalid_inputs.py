"""Walk the invalid-input registry: every case raises a ValueError naming the parameter."""

import re

import pytest

from invalid_inputs import all_cases

CASES = all_cases()


def test_registry_is_not_empty():
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_input_raises_named_value_error(case):
    with pytest.raises(ValueError) as info:
        case.call()
    msg = str(info.value)
    for s in case.expect:
        assert s in msg, f"message {msg!r} lacks {s!r}"
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s):
            # a parameter's name stands as a word of its own, not inside another name
            assert re.search(rf"(?<![A-Za-z0-9_]){s}(?![A-Za-z0-9_])", msg), f"message {msg!r} lacks the word {s!r}"
    assert "\n" not in msg
