"""Leaf placement: keyed, deterministic, collision-free, and the chunk-count padding policies."""

import pytest

from zkclear.errors import ConfigurationError, InputError
from zkclear.tree.placement import TreeConfig, node_range_bits, place_accounts

KEY = bytes(range(32))
IDS = [f"acct-{i}" for i in range(37)]


def test_placement_is_deterministic_for_a_key_and_changes_with_the_key():
    config = TreeConfig(height=16, chunk_bits=3)
    first = place_accounts(IDS, config, KEY)
    assert place_accounts(IDS, config, KEY) == first
    other = place_accounts(IDS, config, bytes(32))
    assert other.chunk_positions != first.chunk_positions


def test_every_account_gets_exactly_one_distinct_leaf():
    config = TreeConfig(height=12, chunk_bits=2)
    placement = place_accounts(IDS, config, KEY)
    locations = placement.account_locations()
    assert sorted(locations) == list(range(len(IDS)))
    leaves = {placement.leaf_index(chunk, slot) for chunk, slot in locations.values()}
    assert len(leaves) == len(IDS)
    assert all(0 <= leaf < 1 << config.height for leaf in leaves)
    assert list(placement.chunk_positions) == sorted(set(placement.chunk_positions))


def test_chunks_are_filled_evenly_and_padded_with_padding_slots():
    config = TreeConfig(height=12, chunk_bits=3, chunk_padding="none")
    placement = place_accounts(IDS, config, KEY)
    sizes = [sum(slot is not None for slot in slots) for slots in placement.chunk_slots]
    assert len(sizes) == 5 and sum(sizes) == 37 and max(sizes) - min(sizes) <= 1
    assert all(len(slots) == 8 for slots in placement.chunk_slots)


def test_collisions_resolve_deterministically_in_a_nearly_full_upper_tree():
    config = TreeConfig(height=5, chunk_bits=1, chunk_padding="none")  # 16 positions for 15 chunks
    ids = [f"a{i}" for i in range(30)]
    placement = place_accounts(ids, config, KEY)
    assert len(set(placement.chunk_positions)) == 15
    assert all(0 <= p < 16 for p in placement.chunk_positions)
    assert place_accounts(ids, config, KEY) == placement


@pytest.mark.parametrize(
    ("policy", "param", "accounts", "expected"),
    [
        ("none", 1, 33, 9),
        ("multiple", 4, 33, 12),
        ("power_of_two", 1, 33, 16),
        ("power_of_two", 32, 5, 32),
        ("capacity", 64, 33, 64),
    ],
)
def test_chunk_padding_policies(policy, param, accounts, expected):
    assert (
        TreeConfig(height=20, chunk_bits=2, chunk_padding=policy, chunk_padding_param=param).chunk_count(
            accounts
        )
        == expected
    )


def test_capacity_too_small_and_tree_too_small_are_configuration_errors():
    with pytest.raises(ConfigurationError):
        TreeConfig(height=20, chunk_bits=2, chunk_padding="capacity", chunk_padding_param=2).chunk_count(9)
    with pytest.raises(ConfigurationError):
        TreeConfig(height=4, chunk_bits=2, chunk_padding="none").chunk_count(17)
    with pytest.raises(ConfigurationError):
        TreeConfig(height=8, chunk_bits=8)


def test_duplicate_or_empty_account_ids_are_input_errors():
    with pytest.raises(InputError, match="duplicate"):
        place_accounts(["a", "b", "a"], TreeConfig(height=8, chunk_bits=2), KEY)
    with pytest.raises(InputError):
        place_accounts(["a", ""], TreeConfig(height=8, chunk_bits=2), KEY)


def test_dense_placement_packs_chunks_at_the_left():
    placement = place_accounts(IDS, TreeConfig(height=16, chunk_bits=2, sparse=False), KEY)
    assert placement.chunk_positions == tuple(range(16))


def test_node_range_bits_cover_a_full_subtree_and_cap_at_64():
    assert node_range_bits(2, 20) == 32
    assert node_range_bits(12, 20) == 32
    assert node_range_bits(13, 20) == 64
    assert node_range_bits(31, 48) == 64
    assert node_range_bits(0, 5) == 8


def test_tree_config_round_trips_through_its_encoding():
    config = TreeConfig(
        height=30, chunk_bits=5, chunk_padding="multiple", chunk_padding_param=7, sparse=False
    )
    assert TreeConfig.decode(config.encode()) == config


def test_allowed_chunk_counts_follow_the_policy():
    assert TreeConfig(height=20, chunk_bits=2).allows_chunk_count(8)
    assert not TreeConfig(height=20, chunk_bits=2).allows_chunk_count(6)
    assert TreeConfig(
        height=20, chunk_bits=2, chunk_padding="multiple", chunk_padding_param=3
    ).allows_chunk_count(6)
    assert not TreeConfig(
        height=20, chunk_bits=2, chunk_padding="capacity", chunk_padding_param=4
    ).allows_chunk_count(3)
    assert TreeConfig(height=20, chunk_bits=2, chunk_padding="none").allows_chunk_count(5)
    assert not TreeConfig(height=4, chunk_bits=2, chunk_padding="none").allows_chunk_count(5)


def _reference_placement(account_ids, config, key):
    """The module docstring's placement, written the plain way (sorting Python tuples), to check the array one."""
    from zkclear.tree.placement import _chunk_position_candidate, _padding_tag, account_tag

    n_chunks = config.chunk_count(len(account_ids))
    order = sorted(range(len(account_ids)), key=lambda i: account_tag(key, account_ids[i]))
    members = [[] for _ in range(n_chunks)]
    for rank, account in enumerate(order):
        members[rank % n_chunks].append((account_tag(key, account_ids[account]), account))
    for chunk, occupants in enumerate(members):
        occupants += [(_padding_tag(key, chunk, pad), None) for pad in range(config.chunk_size - len(occupants))]
        occupants.sort(key=lambda entry: entry[0])
    positions, taken = [], set()
    for chunk in range(n_chunks):
        attempt = 0
        while (candidate := _chunk_position_candidate(key, chunk, attempt, config.upper_height)) in taken \
                and config.sparse:
            attempt += 1
        taken.add(candidate)
        positions.append(candidate if config.sparse else chunk)
    by_position = sorted(range(n_chunks), key=lambda chunk: positions[chunk])
    return (tuple(positions[c] for c in by_position),
            tuple(tuple(account for _, account in members[c]) for c in by_position))


def test_the_array_placement_is_the_documented_order():
    import random

    rng = random.Random(7)
    for count in (1, 2, 15, 16, 17, 333):
        ids = [f"acct-{rng.getrandbits(40)}" for _ in range(count)]
        for config in (TreeConfig(), TreeConfig(height=16, chunk_bits=2, chunk_padding="none")):
            placed = place_accounts(ids, config, KEY)
            assert (placed.chunk_positions, placed.chunk_slots) == _reference_placement(ids, config, KEY)


def test_the_first_repeated_id_in_input_order_is_named():
    import pytest

    from zkclear.errors import InputError

    with pytest.raises(InputError, match="duplicate account id 'b'") as caught:
        place_accounts(["a", "b", "c", "b", "a"], TreeConfig(), KEY)
    assert caught.value.line == 3


_POLICIES = (TreeConfig(), TreeConfig(height=16, chunk_bits=2, chunk_padding="none"),
             TreeConfig(height=12, chunk_bits=3, chunk_padding="multiple", chunk_padding_param=3, sparse=False),
             TreeConfig(height=14, chunk_bits=2, chunk_padding="capacity", chunk_padding_param=300),
             TreeConfig(height=10, chunk_bits=4, chunk_padding="power_of_two", chunk_padding_param=8),
             TreeConfig(height=9, chunk_bits=1, chunk_padding="none"))  # 2^8 positions: chunk collisions


def test_the_on_disk_placement_is_the_documented_order(tmp_path):
    """SQLite's sort places every account where the reference (and the array placement) does: sizes around the
    chunk size and the chunk counts, every padding policy, sparse and packed."""
    import random

    from zkclear.tree.disk_placement import place_on_disk

    rng = random.Random(11)
    for count in (1, 2, 3, 15, 16, 17, 31, 33, 100, 255, 256, 333):
        ids = [f"acct-{rng.getrandbits(40)}" for _ in range(count)]
        for number, config in enumerate(_POLICIES):
            placed = place_on_disk(ids, config, KEY, tmp_path / f"{count}-{number}.sqlite")
            positions, slots = _reference_placement(ids, config, KEY)
            assert tuple(placed.positions.tolist()) == positions
            assert tuple(tuple(None if a < 0 else a for a in placed.slots(k)) for k in range(len(positions))) == slots
            placed.close()


def test_the_on_disk_placement_writes_no_temporary_file_outside_its_folder(tmp_path):
    # CREATE INDEX over the written tags and the window functions spilled to the system's temporary folder
    # (/var/tmp): the placement left the deployment's private scratch folder
    from tests.spill_watch import sqlite_temp_folders
    from zkclear.tree.disk_placement import place_on_disk

    ids = [f"acct-{k:08d}" for k in range(200_000)]
    placed, folders = sqlite_temp_folders(lambda: place_on_disk(ids, TreeConfig(), KEY, tmp_path / "placement.sqlite"))
    assert folders == set() and len(placed.positions) == TreeConfig().chunk_count(len(ids))
    placed.close()


def test_the_on_disk_placement_names_the_first_repeated_id_and_bad_ids_and_leaves_no_file(tmp_path):
    import pytest

    from zkclear.errors import InputError
    from zkclear.tree.disk_placement import place_on_disk

    with pytest.raises(InputError, match="duplicate account id 'b'") as caught:
        place_on_disk(["a", "b", "c", "b", "a"], TreeConfig(), KEY, tmp_path / "p.sqlite")
    assert caught.value.line == 3
    with pytest.raises(InputError, match="non-empty string") as caught:
        place_on_disk(["a", "b", ""], TreeConfig(), KEY, tmp_path / "p.sqlite")
    assert caught.value.line == 2
    assert list(tmp_path.iterdir()) == []


def test_a_padding_parameter_beyond_the_trees_chunk_slots_is_refused_where_the_tree_is_made():
    """Red team session 11: TreeConfig bounded chunk_padding_param below only, so capacity 17 on a tree of 16 chunk
    slots was accepted (never met) and 2^64 did not even encode in an epoch header (struct.error)."""
    for param in (17, 1 << 64):
        with pytest.raises(ConfigurationError, match=r"chunk_padding_param must be in \[1, 16\]"):
            TreeConfig(height=8, chunk_bits=4, chunk_padding="capacity", chunk_padding_param=param)
    assert TreeConfig(height=8, chunk_bits=4, chunk_padding="capacity", chunk_padding_param=16).encode()
