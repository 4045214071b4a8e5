"""Fixtures every encoder test uses: a private data folder, and one torch thread."""

import pytest
import torch


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny tensors: a second intra-op thread only adds synchronisation, which costs whole
    # milliseconds per op when the 2-core machine is busy.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
