"""Training algorithms; importing this package registers them all."""
