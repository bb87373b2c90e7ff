"""`SecretMask`: every form of every secret masked in one pass, the longest first, whatever
the number of secrets (a replica may hold 10,000 API keys)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from balancebot.redact import MASK, SecretMask, variants

# a small alphabet makes secrets overlap, nest and repeat in the text; no "*" (the mask's
# own character could join a mask and its neighbours into a secret)
ALPHABET = "abc-\n\"'\\é"
secrets = st.lists(st.text(ALPHABET, min_size=4, max_size=9), min_size=1, max_size=6)


@given(secrets, st.lists(st.text(ALPHABET, max_size=6), max_size=8), st.data())
def test_no_form_of_a_secret_survives(
    keys: list[str], fillers: list[str], data: st.DataObject
) -> None:
    forms = sorted({form for key in keys for form in variants(key)})
    pieces = [data.draw(st.sampled_from([*forms, *fillers] or [""])) for _ in range(8)]
    masked = SecretMask(keys)("".join(pieces))
    assert not [form for form in forms if form in masked]


@given(secrets, st.text(ALPHABET, max_size=60))
def test_a_text_without_secrets_comes_back_as_it_was(keys: list[str], text: str) -> None:
    mask = SecretMask(keys)
    if not any(form in text for key in keys for form in variants(key)):
        assert mask(text) is text


def test_the_longest_form_wins_and_thousands_of_keys_are_one_pass() -> None:
    keys = [f"sk-{i:032x}" for i in range(5000)]
    odd = "sk-odd\n"
    mask = SecretMask([*keys, "sk-0000", "short-one", odd])
    line = f"401 for {keys[4321]} and {keys[7]}, then sk-0000 and short-one"
    assert mask(line) == f"401 for {MASK} and {MASK}, then {MASK} and {MASK}"
    assert mask(repr(odd)) == f"'{MASK}'"  # the escaped form, whole
    illegal = "Illegal header value b'Bearer sk-x y'"
    assert mask.safe_message(illegal) == "Illegal header value (hidden)"
    assert not SecretMask([]) and SecretMask([])("sk-anything") == "sk-anything"
