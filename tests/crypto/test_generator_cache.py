"""The generator cache: pinned digests equal the hash-to-curve derivation; a cache file is used only when it
matches its pinned digest; altered, truncated or foreign files are ignored, never trusted."""

from __future__ import annotations

import pytest

from zkclear.crypto import generator_cache, generators
from zkclear.crypto.generator_cache import BLOCK_SIZE, block_digest, load_block, pinned_digest, store_block
from zkclear.crypto.generator_digests import PINNED_BLOCK_DIGESTS
from zkclear.crypto.generators import GENERATOR_DST, generator_message, generator_vector
from zkclear.crypto.group import batch_affine
from zkclear.crypto.hash_to_curve import hash_to_curve

LABELS = (b"bulletproofs/G", b"bulletproofs/H")


def _derived(label: bytes, block: int) -> list[tuple[int, int]]:
    points = [hash_to_curve(generator_message(label, i), GENERATOR_DST)
              for i in range(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE)]
    return batch_affine(points)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ZKCLEAR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(generators, "_vectors", {})  # a fresh process: nothing derived yet
    return tmp_path


@pytest.mark.parametrize("label", LABELS)
def test_pinned_digests_are_those_of_the_hash_to_curve_derivation(label):
    assert len(PINNED_BLOCK_DIGESTS[label]) == 64  # 2^16 generators per vector are pinned
    for block in (0, 63):
        assert block_digest(label, block, _derived(label, block)) == pinned_digest(label, block)


def test_a_stored_block_is_read_back_and_gives_the_same_generators(cache_dir):
    label = LABELS[0]
    first = generator_vector(label, BLOCK_SIZE + 3)  # completes block 0: written to the cache
    assert (cache_dir / f"{label.hex()}-0.g1blk").exists()
    assert not (cache_dir / f"{label.hex()}-1.g1blk").exists()  # only 3 of block 1 were derived
    generators._vectors.clear()
    assert load_block(label, 0) == batch_affine(first[:BLOCK_SIZE])
    assert generator_vector(label, BLOCK_SIZE + 3) == first


@pytest.mark.parametrize("damage", ["flip", "truncate", "swap"])
def test_an_altered_cache_file_is_ignored(cache_dir, damage):
    label = LABELS[1]
    points = _derived(label, 0)
    assert store_block(label, 0, points)
    path = cache_dir / f"{label.hex()}-0.g1blk"
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-1] ^= 1
    elif damage == "truncate":
        data = data[:-96]
    else:  # two valid points exchanged: every point is on the curve, the order is wrong
        data[-192:] = data[-96:] + data[-192:-96]
    path.write_bytes(bytes(data))
    assert load_block(label, 0) is None
    expected = [hash_to_curve(generator_message(label, i), GENERATOR_DST) for i in (BLOCK_SIZE - 2, BLOCK_SIZE - 1)]
    assert generator_vector(label, BLOCK_SIZE)[-2:] == expected


def test_blocks_without_a_pinned_digest_are_never_cached(cache_dir):
    label = b"zkclear-test/unpinned"
    assert pinned_digest(label, 0) is None
    points = generator_vector(label, 4)
    assert not store_block(label, 0, batch_affine(points) * (BLOCK_SIZE // 4))
    assert list(cache_dir.iterdir()) == []


def test_caching_can_be_switched_off(monkeypatch, tmp_path):
    monkeypatch.setenv("ZKCLEAR_CACHE_DIR", "off")
    assert generator_cache.cache_directory() is None
    assert load_block(LABELS[0], 0) is None
    assert not store_block(LABELS[0], 0, _derived(LABELS[0], 0))


def test_the_pinned_pedersen_base_is_the_hash_to_curve_derivation():
    from zkclear.crypto.generators import PEDERSEN_H_MESSAGE, pedersen_generators

    assert pedersen_generators()[1] == hash_to_curve(PEDERSEN_H_MESSAGE, GENERATOR_DST)
