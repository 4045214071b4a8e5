"""Suite-wide settings. Two cores are shared by pytest and the worker processes some tests
start: one intra-op thread each avoids oversubscription, where tiny torch ops slow down
by three orders of magnitude."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
