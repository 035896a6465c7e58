"""Shared definitions at the bottom of the one-way street (dashboard → metrics → data → core):
vocabulary, issue and error types, indicator schemes and catalogue, normalisation.
Nothing here imports another package of the project."""
