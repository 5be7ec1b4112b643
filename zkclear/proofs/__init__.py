"""The epoch's statements beyond the per-account ones: tree nodes, matched book, solvency,
reserve attestations, the epoch header and chaining; the epoch prover and the auditor."""
