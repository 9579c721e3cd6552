"""tensorcalc: verify the matrix- and tensor-calculus derivations people write by hand."""

__version__ = "0.1.0"
