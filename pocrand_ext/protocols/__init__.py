"""Protocol layers: the seed strings and composition of each PoC generation over the generic ops."""
