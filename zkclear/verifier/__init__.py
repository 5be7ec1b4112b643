"""The verifier core: what a participant and an auditor run on hostile files (docs/protocol.md)."""
