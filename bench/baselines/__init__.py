"""Baselines measured in the same run as chirp, on the same data: the peers and naive designs it is compared with."""
