"""Audit: the firing trace, why / why-not explanations, replay of stored records."""
