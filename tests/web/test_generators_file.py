"""The page's precomputed generators: the pinned file is the derivation, and preloading it changes no result."""

from __future__ import annotations

import hashlib

import pytest

from provers.bulletproofs.generators import G_VECTOR_LABEL, H_VECTOR_LABEL
from zkclear.crypto import generators as crypto_generators
from zkclear.crypto.generators import GENERATOR_DST, generator_message
from zkclear.crypto.hash_to_curve import hash_to_curve
from zkclear.errors import EncodingError
from zkclear.proofs.position_vector import GENERATOR_LABEL as POSITION_VECTOR_LABEL
from zkclear.web import generators


@pytest.fixture(scope="module")
def pinned_file() -> bytes:
    return generators.encode()


def test_the_pinned_digest_is_the_derivations(pinned_file):
    assert hashlib.sha256(pinned_file).hexdigest() == generators.PINNED_SHA256
    assert len(pinned_file) == 12 + 2 * generators.COUNT * 96 + 4 + generators.POSITION_COUNT * 96


def test_preloaded_points_are_the_derived_ones_and_nothing_is_derived_again(pinned_file, monkeypatch):
    monkeypatch.setattr(crypto_generators, "_vectors", {})
    assert generators.preload(pinned_file) == generators.COUNT

    def no_derivation(*_args):
        raise AssertionError("a preloaded generator was derived again")

    monkeypatch.setattr(crypto_generators, "hash_to_curve", no_derivation)
    g_vector = crypto_generators.generator_vector(G_VECTOR_LABEL, generators.COUNT)
    h_vector = crypto_generators.generator_vector(H_VECTOR_LABEL, generators.COUNT)
    position_vector = crypto_generators.generator_vector(POSITION_VECTOR_LABEL, generators.POSITION_COUNT)
    for label, vector, count in ((G_VECTOR_LABEL, g_vector, generators.COUNT),
                                 (H_VECTOR_LABEL, h_vector, generators.COUNT),
                                 (POSITION_VECTOR_LABEL, position_vector, generators.POSITION_COUNT)):
        for index in (0, 1, count - 1):
            assert vector[index] == hash_to_curve(generator_message(label, index), GENERATOR_DST)


def test_beyond_the_file_generators_are_derived_as_usual(pinned_file, monkeypatch):
    monkeypatch.setattr(crypto_generators, "_vectors", {})
    generators.preload(pinned_file)
    longer = crypto_generators.generator_vector(G_VECTOR_LABEL, generators.COUNT + 2)
    assert longer[-1] == hash_to_curve(generator_message(G_VECTOR_LABEL, generators.COUNT + 1), GENERATOR_DST)


def test_a_modified_file_is_refused(pinned_file, tmp_path, monkeypatch):
    altered = bytearray(pinned_file)
    altered[100] ^= 1
    with pytest.raises(EncodingError, match="pinned"):
        generators.preload(bytes(altered))
    (tmp_path / generators.FILE_NAME).write_bytes(bytes(altered))
    monkeypatch.setattr(generators, "encode", lambda *_args: pinned_file)
    assert generators.ensure_file(tmp_path) == pinned_file  # a bad cached file is rebuilt
    monkeypatch.setattr(generators, "PINNED_SHA256", "00" * 32)
    with pytest.raises(EncodingError, match="refusing"):
        generators.ensure_file(tmp_path / "fresh")
    assert not (tmp_path / "fresh" / generators.FILE_NAME).exists()
