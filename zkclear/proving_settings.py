"""``proving.toml``: how a deployment proves its epochs (docs/format.md, "proving.toml"): the tree shape, the
statements' position width, whether the auditor gets the total's opening, the executor and its window, and the
reserves' venue name and tokens; parsed strictly, every refusal naming the file, line and key."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from zkclear.errors import ConfigurationError, InputError
from zkclear.files import MAX_DOCUMENT_BYTES, read_text
from zkclear.tree.placement import CHUNK_PADDING_POLICIES, TreeConfig

_PROVING_KEYS = {
    "tree": {"height": int, "chunk_bits": int, "chunk_padding": str, "chunk_padding_param": int, "sparse": bool},
    "proving": {"position_bits": int, "disclose_total": bool, "executor": str, "window": int,
                "subtree_chunks": int, "node_group": int},
    "reserves": {"venue": str, "token": list},
}
_TOKEN_KEYS = {"chain": str, "asset": str, "contract": str, "decimals": int}
_TOKEN_REQUIRED = ("chain", "asset", "contract")


@dataclass(frozen=True, slots=True)
class ProvingSettings:
    """How an epoch is proven: the tree shape, the position width of the statements, whether the
    auditor receives the opening of the total, which executor runs the proofs, and the reserves' settings:
    ``venue``, the public name every custodian's attestation text names (it reaches verifiers in the bundle,
    bound by the header), and the tokens held as reserves, ``(chain, asset, contract, decimals or None)`` (None:
    the registry's decimals for a registered contract; zkclear.chains.tokens)."""

    tree: TreeConfig = field(default_factory=TreeConfig)
    position_bits: int = 32
    disclose_total: bool = False
    executor: str = "process"
    #: proving tasks in flight at once (0: twice the workers, plus two): with the chunk size, what bounds memory
    window: int = 0
    #: about this many chunks per subtree of the upper tree (one task builds each)
    subtree_chunks: int = 16
    #: node range proofs per task
    node_group: int = 128
    venue: str = ""
    tokens: tuple[tuple[str, str, str, int | None], ...] = ()

    def to_toml(self) -> str:
        t = self.tree
        return (
            "# zkclear proving settings (docs/format.md, \"proving.toml\")\n"
            "[tree]\n"
            f"height = {t.height}              # leaf capacity 2^height\n"
            f"chunk_bits = {t.chunk_bits}            # 2^chunk_bits accounts per collateral batch (a tree chunk)\n"
            f"chunk_padding = \"{t.chunk_padding}\"  # one of {', '.join(CHUNK_PADDING_POLICIES)}\n"
            f"chunk_padding_param = {t.chunk_padding_param}\n"
            f"sparse = {'true' if t.sparse else 'false'}           # chunk roots at PRF positions (hides the count)\n"
            + self._reserves_toml()
            + "\n[proving]\n"
            f"position_bits = {self.position_bits}        # |position| < 2^position_bits lots (8, 16 or 32)\n"
            f"disclose_total = {'true' if self.disclose_total else 'false'}   # write private/N/epoch-N.total "
            "(the total's opening, for the auditor only)\n"
            f"window = {self.window}                 # proving tasks in flight (0: 2 x workers + 2); bounds memory\n"
            f"subtree_chunks = {self.subtree_chunks}        # chunks per upper-tree subtree task\n"
            f"node_group = {self.node_group}           # node-group range proofs per task\n"
            f"executor = \"{self.executor}\"     # serial, process or dask\n"
        )

    def _reserves_toml(self) -> str:
        venue = f"venue = {json.dumps(self.venue)}" if self.venue else '# venue = "Your Venue"'
        lines = ["", "[reserves]", f"{venue}   # required to prove: the public name every attestation text names"]
        for chain, asset, contract, decimals in self.tokens:
            lines += ["", "[[reserves.token]]     # a token held as reserves: its contract (and decimals, unless "
                      "registered)", f"chain = {json.dumps(chain)}", f"asset = {json.dumps(asset)}",
                      f"contract = {json.dumps(contract)}"]
            lines += [] if decimals is None else [f"decimals = {decimals}"]
        return "\n".join(lines) + "\n"


def load_proving_settings(path: Path) -> ProvingSettings:
    """Parse ``proving.toml`` strictly: unknown tables or keys and wrong types are InputErrors."""
    # a named pipe blocks the read, /dev/zero never ends, a byte that is not UTF-8 is named by its line; a
    # byte-order mark is accepted
    text = read_text(path, limit=MAX_DOCUMENT_BYTES)
    try:
        data = tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per nested array
        raise InputError("not valid TOML: nested too deeply", path=str(path)) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of more digits than Python converts
        raise InputError(f"not valid TOML: {exc}", path=str(path)) from exc
    for table, value in data.items():
        if table not in _PROVING_KEYS or not isinstance(value, dict):
            raise InputError(f"unknown table [{table}]", path=str(path), line=_line_of(text, table), field=table)
        for key, item in value.items():
            expected = _PROVING_KEYS[table].get(key)
            if expected is None:
                raise InputError("unknown key", path=str(path), line=_line_of(text, key), field=f"{table}.{key}")
            if type(item) is not expected:
                raise InputError(f"must be {expected.__name__}, got {type(item).__name__}", path=str(path),
                                 line=_line_of(text, key), field=f"{table}.{key}")
    tree_values = data.get("tree", {})
    proving = data.get("proving", {})
    reserves = data.get("reserves", {})
    venue = reserves.get("venue", "")
    if venue:
        from zkclear.chains.attestation_text import check_venue

        try:
            check_venue(venue)
        except InputError as exc:
            raise InputError(exc.detail, path=str(path), line=_line_of(text, "venue"), field="reserves.venue") from None
    tokens = tuple(_token(item, index, text, path) for index, item in enumerate(reserves.get("token", [])))
    declared = [token[:2] for token in tokens]
    if len(set(declared)) != len(declared):
        twice = next(pair for pair in declared if declared.count(pair) > 1)
        raise InputError(f"{twice[1]} on {twice[0]} is declared twice: one asset is one token on a chain",
                         path=str(path), line=_line_of(text, "[[reserves.token]]"), field="reserves.token")
    contracts = [(chain, contract) for chain, _, contract, _ in tokens]
    if len(set(contracts)) != len(contracts):
        chain, contract = next(pair for pair in contracts if contracts.count(pair) > 1)
        assets = " and ".join(asset for c, asset, k, _ in tokens if (c, k) == (chain, contract))
        raise InputError(f"the token {contract} on {chain} is declared for {assets}: one token counts for one asset",
                         path=str(path), line=_line_of(text, "[[reserves.token]]"), field="reserves.token")
    try:
        tree = TreeConfig(**tree_values)
    except ConfigurationError as exc:  # named by the key its message names (the most specific name first)
        key = next((key for key in ("chunk_padding_param", "chunk_padding", "chunk_bits", "height")
                    if key in str(exc)), "height")
        raise InputError(str(exc), path=str(path), line=_line_of(text, key), field=f"tree.{key}") from None
    try:
        settings = ProvingSettings(tree=tree, **proving, venue=venue, tokens=tokens)
    except ConfigurationError as exc:
        raise InputError(str(exc), path=str(path)) from exc
    if settings.position_bits not in (8, 16, 32):
        raise InputError("must be 8, 16 or 32", path=str(path), line=_line_of(text, "position_bits"),
                         field="proving.position_bits")
    if settings.executor not in ("serial", "process", "dask"):
        raise InputError("must be serial, process or dask", path=str(path), line=_line_of(text, "executor"),
                         field="proving.executor")
    if not 0 <= settings.window <= 1 << 20:
        raise InputError("must be in [0, 1048576]", path=str(path), line=_line_of(text, "window"),
                         field="proving.window")
    for key in ("subtree_chunks", "node_group"):
        if not 1 <= getattr(settings, key) <= 1 << 20:
            raise InputError("must be in [1, 1048576]", path=str(path), line=_line_of(text, key),
                             field=f"proving.{key}")
    return settings


def _token(item: object, index: int, text: str, path: Path) -> tuple[str, str, str, int | None]:
    """One ``[[reserves.token]]`` table, strictly: ``chain``, ``asset``, ``contract`` (the token's contract or
    mint, canonical address form) and ``decimals`` (0-36; optional for a registered contract, and then equal to
    the registry's), a token under the registry's rule (zkclear.chains.tokens)."""
    from zkclear.chains import get_chain
    from zkclear.chains.addresses import parse_token_contract
    from zkclear.chains.networks import Family
    from zkclear.chains.reserves import MAX_DECIMALS, check_asset
    from zkclear.chains.tokens import registered_decimals, token_problem

    where = f"reserves.token[{index}]"
    line = _line_of(text, "[[reserves.token]]")
    if not isinstance(item, dict) or not set(_TOKEN_REQUIRED) <= set(item) <= set(_TOKEN_KEYS):
        raise InputError("a token table has the keys chain, asset, contract and (unless the contract is "
                         "registered) decimals (docs/format.md, \"proving.toml\")", path=str(path), line=line,
                         field=where)
    for key, value in item.items():
        if type(value) is not _TOKEN_KEYS[key]:
            raise InputError(f"must be {_TOKEN_KEYS[key].__name__}", path=str(path), line=line, field=f"{where}.{key}")
    try:
        chain = get_chain(item["chain"])
        asset = check_asset(item["asset"])
        if chain.native_asset == asset or chain.family is Family.BITCOIN:
            raise InputError(f"{asset} on {chain.name} cannot be a token (a native coin, or a chain without tokens)")
        contract = parse_token_contract(chain.name, item["contract"])
    except InputError as exc:
        raise InputError(exc.detail, path=str(path), line=line, field=where) from None
    if contract != item["contract"]:
        raise InputError(f"not in canonical form (write {contract})", path=str(path), line=line,
                         field=f"{where}.contract")
    decimals = item.get("decimals")
    if decimals is not None and not 0 <= decimals <= MAX_DECIMALS:
        raise InputError(f"must be in [0, {MAX_DECIMALS}]", path=str(path), line=line, field=f"{where}.decimals")
    known = registered_decimals(chain.name, contract) if decimals is None else decimals
    if known is None:
        raise InputError(f"the token {contract} is not registered: declare its decimals", path=str(path), line=line,
                         field=f"{where}.decimals")
    problem = token_problem(chain.name, asset, contract, known)
    if problem is not None:
        raise InputError(problem, path=str(path), line=line, field=where)
    return chain.name, asset, contract, decimals


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith((key, f"[{key}]")):
            return number
    return None
