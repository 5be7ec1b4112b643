"""The epoch's published artifacts (public bundle, audit data, receipts) and their on-disk format."""
