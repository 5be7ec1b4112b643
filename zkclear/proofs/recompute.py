"""The statements' public data, derived from the epoch's public inputs with the clearing engine's own code.

Both sides run the same function: the operator (:meth:`zkclear.operator.Deployment.public_data`) builds the
public risk data the proofs bind from :func:`recompute`, and the auditor runs :func:`check_public_inputs` on
the published files, which recomputes it and requires equality with what the header binds. Nothing the
statements depend on — marks, oracle decisions, volatilities, fractions, dynamic parameters, the scenario
table, option values — is trusted because the operator computed it (docs/protocol.md, "Public inputs").

The recomputation runs the engine's :func:`~zkclear.clearing.inputs.validate_inputs` and
:func:`~zkclear.clearing.engine.epoch_risk_parameters` on the public part of the previous state (prices,
funding indices, expiries, price history; no account) and of the epoch's inputs (marks or oracle quotes,
funding rates, volatilities, margin overrides; no fill, transfer or account): those functions read nothing
else, so the result is the engine's own risk data of the epoch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from circuits.public_data import PublicRiskData
from zkclear.clearing.config import SYSTEM_ACCOUNTS, ClearingConfig
from zkclear.clearing.engine import (
    apply_epoch,
    carried_flows,
    dynamic_parameter_records,
    epoch_risk_parameters,
    option_equity_values,
)
from zkclear.clearing.inputs import (
    EpochInputs,
    Fills,
    FundingRate,
    ImpliedVol,
    MarginOverride,
    MarkPrice,
    OracleQuote,
    validate_inputs,
)
from zkclear.clearing.io import parse_config
from zkclear.clearing.ledger import config_canonical_bytes
from zkclear.clearing.margin import RiskParameters
from zkclear.clearing.money import MAX_AMOUNT, MAX_PRICE_TICKS
from zkclear.clearing.provable import StatementLimits
from zkclear.clearing.state import EpochState, frozen_array
from zkclear.errors import VerificationError, ZkclearError
from zkclear.verifier.public_inputs import FORMAT, FORMAT_V1, FORMAT_V3, PublicInputs, encode_public_inputs

SOURCE = "<public inputs>"


@dataclass(frozen=True, slots=True)
class Recomputed:
    """What the public inputs determine: the engine's risk parameters, the statements' public data and the
    ``derived`` section of the inputs file."""

    config: ClearingConfig
    risk: RiskParameters
    public_data: PublicRiskData
    derived: dict


def _previous_section(state: EpochState, document_format: str) -> dict:
    section = {
        "epoch": state.epoch,
        "instruments": [[i, p, f, bool(e)] for i, p, f, e in zip(
            state.instruments, state.settlement_prices, state.funding_indices, state.expired, strict=True)],
        "price_history": [[group, list(prices)] for group, prices in state.price_history],
        "dynamic_parameters": [list(p) for p in state.dynamic_parameters],
    }
    if document_format == FORMAT_V3:  # a bounded oracle fallback: the epochs each instrument's has been running
        section["oracle_fallbacks"] = [[instrument, count] for instrument, count in zip(
            state.instruments, state.fallbacks_running, strict=True) if count]
    return section


def _inputs_section(inputs: EpochInputs) -> dict:
    return {
        "marks": [[m.instrument, m.mark_price, m.funding_rate_ppm] for m in inputs.marks],
        "oracle_quotes": [[q.instrument, q.source, q.price, q.timestamp] for q in inputs.oracle_quotes],
        "funding_rates": [[r.instrument, r.funding_rate_ppm] for r in inputs.funding_rates],
        "implied_vols": [[v.instrument, v.implied_vol_ppm] for v in inputs.implied_vols],
        "margin_overrides": [[o.instrument, o.initial_margin_ppm, o.maintenance_margin_ppm]
                             for o in inputs.margin_overrides],
    }


def public_inputs_of_epoch(config_text: str, state_before: EpochState, inputs: EpochInputs, *,
                           position_bits: int) -> PublicInputs:
    """The public inputs of the epoch that ``inputs`` applied to ``state_before`` (operator side)."""
    bounded = parse_config(config_text, path=f"{SOURCE}: config").max_fallback_epochs is not None
    document_format = FORMAT_V3 if bounded else FORMAT
    document = {
        "format": document_format,
        "epoch": inputs.epoch,
        "label": f"epoch-{inputs.epoch}",
        "position_bits": position_bits,
        "config": config_text,
        "previous": _previous_section(state_before, document_format),
        "inputs": _inputs_section(inputs),
        "derived": {},
    }
    document["derived"] = recompute(PublicInputs(document)).derived
    encode_public_inputs(document)  # validates the shape the verifier will require
    return PublicInputs(document)


def _public_state(previous: dict, config: ClearingConfig) -> EpochState:
    instruments = previous["instruments"]
    count = len(instruments)
    # The clearing house's own accounts (no balances: nothing here reads them) stand for the accounts.
    accounts = tuple(sorted(SYSTEM_ACCOUNTS))
    zeros = frozen_array(np.zeros(len(accounts), dtype=np.int64))
    return EpochState(
        epoch=previous["epoch"],
        instruments=tuple(row[0] for row in instruments),
        settlement_prices=tuple(row[1] for row in instruments),
        funding_indices=tuple(row[2] for row in instruments),
        expired=tuple(row[3] for row in instruments),
        accounts=accounts, margin_modes=("standard",) * len(accounts), cash=zeros,
        positions=frozen_array(np.zeros((len(accounts), count), dtype=np.int64)), net_deposits=zeros,
        total_deposited=0, total_withdrawn=0,
        price_history=tuple((group, tuple(prices)) for group, prices in previous["price_history"]),
        dynamic_parameters=tuple(tuple(p) for p in previous["dynamic_parameters"]),
        asset_ids=config.asset_ids,
        oracle_fallbacks=_fallback_counts(previous, config),
    )


def _fallback_counts(previous: dict, config: ClearingConfig) -> tuple[int, ...]:
    """Per instrument, the epochs running its mark has been the oracle guard's fallback, from the published rows
    (format v3) — which must be what the engine keeps [public-inputs-invalid]: configured instruments in order, each
    once, counts from 1 to the bound (``oracle.max_fallback_epochs``) and to the epochs closed."""
    rows = previous.get("oracle_fallbacks", [])
    if not rows:
        return ()
    order = {instrument: column for column, instrument in enumerate(config.instrument_ids)}
    columns = [order.get(instrument, -1) for instrument, _ in rows]
    limit = min(config.max_fallback_epochs or 0, previous["epoch"])
    if min(columns) < 0 or columns != sorted(set(columns)) or not all(1 <= count <= limit for _, count in rows):
        raise VerificationError("public-inputs-invalid",
                                detail=f"the published previous state's oracle fallbacks {rows!r:.200} are not "
                                       f"what the engine keeps: configured instruments in order, each once, with "
                                       f"1 to {limit} epochs running (oracle.max_fallback_epochs "
                                       f"{config.max_fallback_epochs}, {previous['epoch']} epochs closed)")
    counts = dict(zip(columns, (count for _, count in rows), strict=True))
    return tuple(counts.get(column, 0) for column in range(len(config.instruments)))


def _epoch_inputs(document: dict) -> EpochInputs:
    section = document["inputs"]
    return EpochInputs(
        epoch=document["epoch"], fills=Fills.empty(),
        marks=tuple(MarkPrice(i, m, r, SOURCE, k + 1) for k, (i, m, r) in enumerate(section["marks"])),
        margin_overrides=tuple(MarginOverride(i, im, mm, SOURCE, k + 1)
                               for k, (i, im, mm) in enumerate(section["margin_overrides"])),
        implied_vols=tuple(ImpliedVol(i, v, SOURCE, k + 1) for k, (i, v) in enumerate(section["implied_vols"])),
        oracle_quotes=tuple(OracleQuote(i, s, p, t, SOURCE, k + 1)
                            for k, (i, s, p, t) in enumerate(section["oracle_quotes"])),
        funding_rates=tuple(FundingRate(i, r, SOURCE, k + 1)
                            for k, (i, r) in enumerate(section["funding_rates"])),
    )


def _json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def _invalid(exc: ZkclearError) -> VerificationError:
    return VerificationError("public-inputs-invalid", detail=f"the published public inputs do not clear: {exc}")


def _config(document: dict) -> ClearingConfig:
    config = replace(parse_config(document["config"], path=f"{SOURCE}: config"),
                     statement_limits=StatementLimits(document["position_bits"]))
    if (config.max_fallback_epochs is not None) != (document["format"] == FORMAT_V3):
        # a v2 file has nowhere to carry the running fallbacks: under a bounded guard it would restart the count
        raise VerificationError("public-inputs-invalid",
                                detail=f"the public inputs are in format {document['format']}; a configuration "
                                       f"{'that sets' if config.max_fallback_epochs is not None else 'without'} "
                                       f"oracle.max_fallback_epochs is published in "
                                       f"{FORMAT_V3 if config.max_fallback_epochs is not None else 'v1 or v2'}")
    return config


def _check_previous_shape(config: ClearingConfig, state: EpochState) -> None:
    """The published previous state is one the engine keeps [public-inputs-invalid], checked before anything runs
    on it (red team round 4): the configuration's instruments in order, settlement prices in ``[0, MAX_PRICE_TICKS]``
    (a price of -2^63 passed the recomputation and broke the engine's arithmetic on the next close), and a price
    history of the configuration's groups, in order, at most one price per closed epoch and ``dynamic_window`` prices
    each, none when dynamic margin is off (a GARCH fit of 65,536 prices takes seconds, and a 64 MiB file held
    hundreds of them: the fits now cost no more than the operator's own close of that epoch); no dynamic parameters
    when dynamic margin is off. An instrument is expired exactly when its kind expires and its ``expiry_epoch`` has
    closed (red team session 13: a live option published as expired is valued at its previous settlement price, which
    an epoch checked alone takes from the operator: a put worth 14,747 ticks was valued, and margined, at 0)."""
    if state.instruments != config.instrument_ids or not all(
            type(price) is int and 0 <= price <= MAX_PRICE_TICKS for price in state.settlement_prices):
        raise VerificationError("public-inputs-invalid",
                                detail=f"the published previous state does not list the configuration's instruments "
                                       f"with settlement prices in [0, {MAX_PRICE_TICKS}] ticks")
    groups = config.underlying_groups() if config.dynamic_margin != "off" else ()
    names = [group for group, _ in state.price_history]
    longest = max((len(prices) for _, prices in state.price_history), default=0)
    limit = min(config.dynamic_window, state.epoch)
    if names != sorted(set(names) & set(groups)) or longest > limit:
        raise VerificationError("public-inputs-invalid",
                                detail=f"the published price history ({len(names)} groups, the longest {longest} "
                                       f"prices) is not one the configuration keeps after epoch {state.epoch} (groups "
                                       f"{', '.join(groups) or 'none'}, at most {limit} prices each)")
    for spec, expired in zip(config.instruments, state.expired, strict=True):
        closed = config.kinds.get(spec.kind).expires and spec.expiry_epoch <= state.epoch
        if expired != closed:
            raise VerificationError("public-inputs-invalid",
                                    detail=f"the published previous state has {spec.instrument_id} "
                                           f"{'expired' if expired else 'live'} after epoch {state.epoch}; its "
                                           f"configuration makes it {'expired' if closed else 'live'} (expiry epoch "
                                           f"{spec.expiry_epoch})")
    if config.dynamic_margin == "off" and state.dynamic_parameters:
        raise VerificationError("public-inputs-invalid",
                                detail="the published previous state carries dynamic margin parameters, and the "
                                       "configuration has dynamic margin off")


def recompute(inputs: PublicInputs) -> Recomputed:
    """Run the engine on the public inputs. Raises VerificationError("public-inputs-invalid") with the
    engine's own message when they are inconsistent (a bad mark, an unknown instrument, a history that does
    not give the published dynamic parameters, ...)."""
    document = inputs.document
    try:
        config = _config(document)
        state = _public_state(document["previous"], config)
        _check_previous_shape(config, state)
        if config.dynamic_margin != "off":  # an empty history too: it gives no parameters (red team s13)
            expected = dynamic_parameter_records(config, state.price_history, state.epoch + 1)
            if expected != state.dynamic_parameters:
                raise VerificationError(
                    "dynamic-parameters-mismatch",
                    detail=f"the dynamic margin parameters in force (computed at the close of epoch {state.epoch}) "
                           f"are not the ones the published price history gives: published "
                           f"{list(state.dynamic_parameters)}, recomputed {list(expected)}")
        resolved = validate_inputs(state, _epoch_inputs(document), config)
        risk = epoch_risk_parameters(state, resolved, config)
        values = option_equity_values(config, risk)
        public_data = PublicRiskData.from_epoch(
            risk, config.risk_models, scenario_table=risk.scenario_table, equity_values=values,
            position_bits=document["position_bits"], label=document["label"])
    except VerificationError:
        raise
    except ZkclearError as exc:
        raise _invalid(exc) from None
    assets = {}
    if document["format"] != FORMAT_V1:  # v2 (issue 13): the collateral assets' prices and haircut lines
        assets = {"assets": [[a.asset_id, a.price_ticks, [list(line) for line in a.haircut_lines],
                              a.haircut_denominator, a.cap] for a in risk.assets]}
    derived = _json_round_trip(assets | {
        "marks": [[r.instrument_id, r.mark_price] for r in risk.instruments],
        "fractions": [[r.instrument_id, r.initial_margin_ppm, r.maintenance_margin_ppm] for r in risk.instruments],
        "implied_vols": [[r.instrument_id, r.implied_vol_ppm] for r in risk.instruments if r.is_engine_option],
        "option_values": [[instrument, value] for instrument, value in sorted(values.items())],
        "scan_ranges": [list(p) for p in risk.dynamic_scan_ranges_ppm],
        "oracle_decisions": list(resolved.oracle_decisions),
        "paused_instruments": [config.instruments[c].instrument_id for c in resolved.paused_columns],
    })
    return Recomputed(config, risk, public_data, derived)


def first_difference(published: Any, recomputed: Any, where: str = "") -> str | None:
    """A readable path to the first place two JSON-like values differ (None when equal): of another type (``0`` for
    ``false``), another value, another length, or a key only one of them has (an absent key for a null one)."""
    if isinstance(published, list) and isinstance(recomputed, list):
        for k, (a, b) in enumerate(zip(published, recomputed, strict=False)):
            found = first_difference(a, b, f"{where}[{k}]")
            if found:
                return found
        if len(published) != len(recomputed):
            return f"{where}: {len(published)} entries published, {len(recomputed)} recomputed"
        return None
    if isinstance(published, dict) and isinstance(recomputed, dict):
        for key in sorted(set(published) | set(recomputed)):
            if key not in published or key not in recomputed:
                return f"{where}.{key}: {'not published' if key in recomputed else 'published, not recomputed'}"
            found = first_difference(published[key], recomputed[key], f"{where}.{key}")
            if found:
                return found
        return None
    if type(published) is not type(recomputed) or published != recomputed:  # 0 == False, 1 == True in Python
        return f"{where or 'value'}: published {published!r:.80}, recomputed {recomputed!r:.80}"
    return None


def check_public_inputs(inputs: PublicInputs, public_data: PublicRiskData, *, epoch: int) -> Recomputed:
    """The auditor's check: the inputs are for ``epoch``, their ``derived`` section is what the engine
    computes from them, and the statements' public data (bound by the header) is the one they give.
    VerificationError naming the first difference otherwise."""
    if inputs.epoch != epoch:
        raise VerificationError("public-inputs-mismatch",
                                detail=f"the public inputs are for epoch {inputs.epoch}, the bundle is epoch {epoch}")
    result = recompute(inputs)
    difference = first_difference(inputs.derived, result.derived, "derived")
    if difference:
        raise VerificationError("public-inputs-mismatch",
                                detail=f"the published derived values are not what the public inputs give: "
                                       f"{difference}")
    if result.public_data.digest() != public_data.digest():
        difference = first_difference(public_data.canonical(), result.public_data.canonical(), "risk data")
        raise VerificationError("public-data-recomputed",
                                detail=f"the risk data the proofs use is not the one recomputed from the "
                                       f"published inputs: {difference}")
    return result


def _checked_previous_state(document: dict) -> tuple[ClearingConfig, EpochState]:
    """The configuration and the accounts-free state before the epoch, checked to be one the engine keeps."""
    config = _config(document)
    state = _public_state(document["previous"], config)
    _check_previous_shape(config, state)
    return config, state


def carried_cash_flows(inputs: PublicInputs, positions: Mapping[str, int]) -> tuple[int, int]:
    """The variation margin and the funding the clearing engine pays on ``positions`` (lots per instrument id: an
    account's positions at the close of the epoch before, from its verified receipt) carried into the epoch of
    ``inputs`` — its own :func:`~zkclear.clearing.engine.carried_flows` on the epoch's previous settlement prices,
    marks, funding rates and configuration, to the unit. VerificationError("public-inputs-invalid") when the
    positions are not the configuration's instruments or the engine would refuse them at the epoch's marks."""
    document = inputs.document
    try:
        config, state = _checked_previous_state(document)
        if sorted(positions) != sorted(config.instrument_ids) or not all(
                type(q) is int and abs(q) <= MAX_AMOUNT for q in positions.values()):
            raise VerificationError("public-inputs-invalid",
                                    detail=f"the positions carried into epoch {inputs.epoch} are not lots of the "
                                           f"configuration's instruments ({', '.join(config.instrument_ids)})")
        row = np.array([[positions[i] for i in config.instrument_ids]], dtype=np.int64)
        resolved = validate_inputs(state, _epoch_inputs(document), config)
    except VerificationError:
        raise
    except ZkclearError as exc:
        raise _invalid(exc) from None
    try:
        vm, funding, _rates = carried_flows(row, state, resolved, config)
    except ZkclearError:  # its message would name an account of the accounts-free state: this one is yours
        raise VerificationError("public-inputs-invalid",
                                detail=f"at epoch {inputs.epoch}'s marks the positions carried in would be worth "
                                       "more than the amount bound: the engine refuses such an epoch") from None
    return int(vm[0]), int(funding[0])


def state_after(inputs: PublicInputs) -> dict:
    """The ``previous`` section the next epoch's public inputs must carry: the public part of the state after this
    epoch (prices, funding indices, expiries, price history, dynamic parameters), computed by the engine's own
    :func:`~zkclear.clearing.engine.apply_epoch` from this epoch's public inputs alone (on the accounts-free state:
    those fields depend on no fill, transfer or account)."""
    document = inputs.document
    try:
        config, before = _checked_previous_state(document)
        after, _report = apply_epoch(before, _epoch_inputs(document), config)
    except VerificationError:
        raise
    except ZkclearError as exc:
        raise _invalid(exc) from None
    return _json_round_trip(_previous_section(after, document["format"]))


def check_inputs_chain(previous: PublicInputs | None, inputs: PublicInputs) -> None:
    """The public inputs continue the earlier epoch's given [epoch-chain-broken]: the same configuration (as the ledger
    compares it, position bits included: both fixed at init, so also across a gap: red team session 13, epochs 1
    and 3 audited together passed with epoch 3 proven under maintenance fractions 50 times lower) and, when
    ``previous`` is the epoch before, a ``previous`` section that is the state the previous epoch's inputs leave
    (``previous`` None: only a first epoch is checked, against the genesis state; ``previous`` of an earlier epoch
    than the one before: the configuration only, its state has nothing to compare with). Else an operator could prove
    an epoch under margin fractions, a price history or funding indices of its choosing, every epoch recomputing
    consistently on its own."""
    document = inputs.document
    try:
        config = _config(document)
        if previous is None:
            if document["previous"]["epoch"] != 0:
                return  # the state before a later epoch is checked against that epoch's inputs, when given
            expected, source = _json_round_trip(_previous_section(EpochState.genesis(config),
                                                                document["format"])), "the genesis state"
        elif config_canonical_bytes(config) != config_canonical_bytes(_config(previous.document)):
            raise VerificationError("epoch-chain-broken",
                                    detail=f"epoch {inputs.epoch}'s public inputs carry another configuration than "
                                           f"epoch {previous.epoch}'s (it is fixed at init, position bits included)")
        elif inputs.epoch != previous.epoch + 1:
            return  # not consecutive: the state is checked against the epoch before only (audit and verify say so)
        else:
            expected, source = state_after(previous), f"the state epoch {previous.epoch}'s public inputs leave"
    except VerificationError:
        raise
    except ZkclearError as exc:
        raise _invalid(exc) from None
    difference = first_difference(document["previous"], expected, "previous")
    if difference:
        raise VerificationError("epoch-chain-broken",
                                detail=f"epoch {inputs.epoch}'s public inputs do not start from {source}: "
                                       f"{difference}")
