"""Records that enter and leave alertflow, their wire-format decoders and the config models.

Nothing here imports another alertflow package: every other layer depends on this one.
"""
