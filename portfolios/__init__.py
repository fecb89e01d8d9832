"""Users, portfolios, positions and tags; the demo seed; CSV import of positions."""
