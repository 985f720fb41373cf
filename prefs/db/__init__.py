"""The database layer: the engine's wiring, the hot paths' plain SQL on the driver, the transaction regimes
and the SQLite write gate. Services and wings reach the database through SQLAlchemy's session or through here."""
