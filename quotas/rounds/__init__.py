"""Allocation rounds, the pure part (issue 17; docs/programme.md): the panel's ranking, the proposed
awards, and a call's statistics with their public suppression. Plain data in, plain data out: no Django, no database, no clock — the same inputs always give
the same ranking and the same proposal."""
