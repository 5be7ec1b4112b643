"""Fuzz campaign, session 15: hostile values in every verifier input (the decoders of the bundle, receipt and audit
files, the JSON public files, the participant file) found these defects; each test pins one fix. A hostile file is
refused with one named EncodingError or VerificationError, never another exception type."""

from __future__ import annotations

import json

import pytest

from tests.proofs.epoch_fixtures import public_inputs
from zkclear.errors import EncodingError
from zkclear.verifier.public_inputs import decode_public_inputs, encode_public_inputs


def _inputs_with(**changes: object) -> bytes:
    document = dict(public_inputs().document, **changes)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


@pytest.mark.parametrize("value", [[], [[1]], {}, {"a": 1}])
def test_a_public_inputs_format_that_is_a_list_or_an_object_is_an_encoding_error(value):
    """Before: the format was looked up in the dict of known formats as it was, and a list or an object there is
    unhashable — a TypeError, `internal error` (exit 3) from `zkclear verify`, `audit` and `show`."""
    data = _inputs_with(format=value)
    with pytest.raises(EncodingError, match="format"):
        decode_public_inputs(data, what="epoch-1.inputs.json")
    with pytest.raises(EncodingError, match="format"):
        encode_public_inputs(json.loads(data))
