"""Reading measured powder patterns and writing densities for viewers."""
