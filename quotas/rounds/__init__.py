"""Allocation rounds, the pure part (issue 17; docs/programme.md): the panel's ranking and the proposed
awards. Plain data in, plain data out: no Django, no database, no clock — the same inputs always give
the same ranking and the same proposal."""
