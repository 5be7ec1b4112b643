"""One socialized loss per liquidation round (session 16; docs/clearing.md "Liquidation", "Socialized loss").

The waterfall red team found a socialized loss computed and reported payer by payer for each bankrupt account:
100 bankrupt accounts against 20,000 others wrote 2,000,100 records. The residues a round leaves to socialized
loss are now paid once, when its last candidate is done: the insurance fund first as far as it goes, the rest of
their sum pro rata to the positive equity of every account but the insurance fund and the round's bankrupt accounts,
one record per round. The market is the sybil crash of
``zkclear bench waterfall`` (zkclear/bench/waterfall.py): ``B`` accounts each bankrupt at −40,000 against ``P`` flat
payers of about 1,000,000 each and a dealer, with an empty insurance fund.
"""

from __future__ import annotations

import pytest

from tests.clearing import reference_clearing_s15 as ref
from tests.clearing.clearing_helpers import run
from tests.clearing.test_waterfall_redteam_s16 import _model_and_engine
from zkclear.bench.waterfall import sybil_epochs
from zkclear.clearing import waterfall
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.state import EpochState, canonical_json
from zkclear.clearing.waterfall import allocate_pro_rata


def _crash(bankrupts: int, payers: int):
    """The two epochs cleared (invariants checked); the state after epoch 1, after epoch 2, and epoch 2's report."""
    config, first, second = sybil_epochs(bankrupts, payers)
    before, _ = run(config, first)
    after, (report,) = run(config, second, state=before)
    return before, after, report


def test_the_residues_of_a_round_are_paid_in_one_allocation_that_conserves_every_unit():
    """Seven accounts go bankrupt in the same round: one record names their seven residues and the accounts charged,
    the charges sum to the residues to the unit, every bankrupt account ends at exactly 0, each payer is charged once
    and at most its equity, and no money is made or lost (``run`` checks conservation and the matched book)."""
    before, after, report = _crash(7, 40)
    bankrupt = [e for e in report.liquidations if e.action == "bankrupt"]
    assert len(bankrupt) == 7 and all(e.resolution == "socialized_loss" and e.residue == 40_000 for e in bankrupt)
    (loss,) = report.socialized
    assert loss.residues == tuple((e.account, e.residue) for e in bankrupt)  # in the order they arose
    assert loss.total == sum(amount for _, amount in loss.charges) == 7 * 40_000
    charged = [account for account, _ in loss.charges]
    assert charged == sorted(set(charged)) and all(amount > 0 for _, amount in loss.charges)
    assert all(after.cash_of(account) == 0 for account, _ in loss.residues)
    assert int(after.cash.sum()) == int(before.cash.sum())


def test_the_split_is_pro_rata_to_the_equity_at_the_rounds_end_with_the_largest_remainder_rule():
    """The charges are exactly ``allocate_pro_rata`` of the summed residues over the payers' equity (dealer and
    payers, id order): what they hold once the round's variation margin is in, which the round's hand-overs at the
    mark do not change."""
    config, first, second = sybil_epochs(3, 25)
    before, _ = run(config, first)
    after, (report,) = run(config, second, state=before)
    (loss,) = report.socialized
    payers = [a for a in after.accounts if a == "dealer" or a.startswith("payer")]
    equity = {a: after.cash_of(a) + dict(loss.charges).get(a, 0) for a in payers}  # before the charge
    assert equity["dealer"] == 20 * 3 * 10**5 + 3 * 10 * 2_000 * 10  # its deposit and the bankrupts' 30 lots' gain
    shares = allocate_pro_rata(120_000, [equity[a] for a in payers])
    assert loss.charges == tuple((a, s) for a, s in zip(payers, shares, strict=True) if s)


def test_a_single_bankruptcy_is_charged_as_before():
    """One bankrupt account in its round: the charges are what the per-bankruptcy rule charged — its residue split
    over the others' positive equity when it went bankrupt (nothing else moved cash in the round)."""
    before, after, report = _crash(1, 30)
    (loss,) = report.socialized
    assert loss.residues == (("bankrupt000000", 40_000),)
    payers = [a for a in after.accounts if a == "dealer" or a.startswith("payer")]
    at_bankruptcy = [before.cash_of(a) + (10 * 2_000 * 10 if a == "dealer" else 0) for a in payers]  # + the fall
    expected = allocate_pro_rata(40_000, at_bankruptcy)
    assert loss.charges == tuple((a, s) for a, s in zip(payers, expected, strict=True) if s)


def test_many_bankrupt_accounts_cost_bankrupts_plus_payers_not_their_product(monkeypatch: pytest.MonkeyPatch):
    """The sybil case (red team s16): 60 bankrupt accounts against 1,500 payers wrote 60 × 1,501 records and
    allocated over 1,501 weights 60 times. Now one record of 60 residues and at most 1,501 charges, the report's
    socialized part a few tens of bytes per entry, and one allocation over at most 1,501 weights in the epoch (the
    per-payer work, counted rather than timed: benchmarks are scripts, ``zkclear bench waterfall``)."""
    weights_allocated: list[int] = []
    counted = allocate_pro_rata

    def counting(total: int, weights: list[int]) -> list[int]:
        weights_allocated.append(len(weights))
        return counted(total, weights)

    monkeypatch.setattr(waterfall, "allocate_pro_rata", counting)
    config, first, second = sybil_epochs(60, 1_500)
    state, _ = apply_epoch(EpochState.genesis(config), first, config)
    weights_allocated.clear()
    _, report = apply_epoch(state, second, config)
    (loss,) = report.socialized
    assert len(loss.residues) == 60 and 1_400 <= len(loss.charges) <= 1_501
    assert max(weights_allocated) <= 1_501 and sum(w for w in weights_allocated if w > 100) <= 1_501
    socialized_bytes = len(canonical_json(report.to_canonical()["socialized"]))
    assert socialized_bytes <= 40 * (60 + 1_501)


def test_the_round_excludes_its_bankrupt_accounts_and_the_insurance_fund_from_the_payers():
    """No account both receives a residue and pays a charge in one round, and the insurance fund (empty here, but it
    can take a later candidate's penalty in the round) is never charged."""
    _, _, report = _crash(4, 10)
    (loss,) = report.socialized
    charged = {account for account, _ in loss.charges}
    assert not charged & {account for account, _ in loss.residues}
    assert "CH:insurance" not in charged


def test_the_insurance_fund_pays_first_what_a_later_candidate_of_the_round_put_in_it():
    """Found by the differential test while the rule was written: A ends a round trip flat at −1,407, the fund
    (1) pays 1 and the residue 1,406 waits for the round's end; B and C, later in the same round, are closed out in
    part and pay penalties of 69 and 23 to the fund. The others' positive equity left, 396 + 922 = 1,318, no longer
    covers 1,406, and a rule that charged it to them alone stopped the epoch as insolvent (``ClearingError``). The
    fund pays what it holds first (92), the rest is socialized — engine and reference model alike."""
    config = ref.Config((ref.Instrument("I0", "perpetual", 1, 123_457, 123_457),), penalty_ppm=10_000, buffer_ppm=0,
                        deficit_resolution="adl")
    first = ref.Inputs(1, {"I0": (1_171, 0)}, (), (("a", "deposit", "A", 1), ("b", "deposit", "B", 1),
                       ("c", "deposit", "C", 1), ("f", "deposit", ref.INSURANCE_FUND, 1)), ("A", "B", "C"))
    second = ref.Inputs(2, {"I0": (1_147, 0)}, (ref.FillRecord("x", "C", "A", "I0", 8, 1_029),
                                                ref.FillRecord("y", "A", "B", "I0", 8, 1_205)))
    state, report = _model_and_engine(config, first, second)
    first_round = report.liquidations[:3]
    assert [(e.account, e.action, e.residue) for e in first_round] == [("A", "bankrupt", 1_406), ("B", "partial", 0),
                                                                      ("C", "partial", 0)]
    (loss,) = report.socialized
    assert loss.residues == (("A", 1_406),) and loss.insurance_paid == 69 + 23 == sum(e.penalty for e in first_round)
    assert loss.charges == (("B", 395), ("C", 919)) and loss.insurance_paid + 395 + 919 == loss.total
    assert state.cash_of("A") == 0


def test_each_round_that_leaves_a_residue_has_its_own_record():
    """Found by searching the differential test's markets for two socialized rounds in one epoch: U0 (8 deposited,
    a 25 fee) ends epoch 1 at −17 long 4 lots; the fund (1) pays 1 and the residue 16 goes to ADL, U1 and the
    backstop each taking 2 lots and paying 8 — U1 from 4, so it ends at −4, below maintenance only from then on. The
    backstop was a candidate of the same round (short 2 lots at equity 0): flat and at −8, its residue is the round's
    socialized loss, paid by the fee account. U1's −4 is the next round's, a second record."""
    config = ref.Config((ref.Instrument("I0", "dated_future", 100, 1, 1, expiry_epoch=2),), penalty_ppm=0,
                        buffer_ppm=0, deficit_resolution="adl")
    first = ref.Inputs(1, {"I0": (1, None)}, (ref.FillRecord("x", "U0", "U1", "I0", 2, 1),
                                              ref.FillRecord("y", "U0", ref.BACKSTOP, "I0", 2, 1, buyer_fee=25)),
                       (("a", "deposit", "U0", 8), ("b", "deposit", "U1", 4), ("f", "deposit", ref.INSURANCE_FUND, 1)),
                       ("U0", "U1"))
    state, report = _model_and_engine(config, first)
    assert [(e.account, e.residue, e.resolution) for e in report.liquidations] == [
        ("U0", 16, "adl"), (ref.BACKSTOP, 8, "socialized_loss"), ("U1", 4, "socialized_loss")]
    assert [(e.counterparty, e.cash) for e in report.adl] == [("U1", 8), (ref.BACKSTOP, 8)]
    assert [(loss.residues, loss.insurance_paid, loss.charges) for loss in report.socialized] == [
        (((ref.BACKSTOP, 8),), 0, ((ref.FEE_ACCOUNT, 8),)), ((("U1", 4),), 0, ((ref.FEE_ACCOUNT, 4),))]
    assert {a: state.cash_of(a) for a in ("U0", "U1", ref.BACKSTOP, ref.FEE_ACCOUNT)} == {
        "U0": 0, "U1": 0, ref.BACKSTOP: 0, ref.FEE_ACCOUNT: 25 - 12}
