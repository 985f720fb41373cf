"""Service functions: the domain operations. They flush, never commit; the caller owns the transaction."""
