"""Issue 22: one dataset label (folder, reader, view) for `data info`, `compare`, `report` and
the dashboard, so two datasets never share a label."""

from __future__ import annotations

import itertools

from morec_core.config import DataConfig, RunSpec
from morec_core.data.labels import dataset_label
from morec_core.spec_labels import data_view, read_spec


def test_two_datasets_never_share_a_label():
    views = [
        DataConfig(source="rechorus", path="/data/Grocery_and_Gourmet_Food"),
        DataConfig(source="rechorus", path="/data/Beauty"),
        DataConfig(source="unisrec", path="/data/Beauty"),
        DataConfig(source="movielens", path="/data/ml", modality="image"),
        DataConfig(source="movielens", path="/data/ml", modality="image", max_seq_len=13),
        DataConfig(source="movielens", path="/data/ml"),
        DataConfig(source="microlens", path="/data/microlens-50k", user_sample=3000),
        DataConfig(source="microlens", path="/data/microlens-50k", user_sample=3000,
                   sample_seed=1),
        DataConfig(source="microlens", path="/data/microlens-50k/", warm_min_item_interactions=20),
        DataConfig(source="rechorus", path="/data/Beauty", split="given", dedupe="keep"),
        DataConfig(source="table", path="/data/shop", text_columns="name"),
        DataConfig(source="demo"),
    ]
    labels = [dataset_label(view) for view in views]
    assert len(set(labels)) == len(labels), labels
    for first, second in itertools.combinations(views, 2):
        assert (dataset_label(first) == dataset_label(second)) == (first == second)
    assert labels[0] == "Grocery_and_Gourmet_Food (rechorus, text)"
    assert labels[4] == "ml (movielens, image, latest 13)"
    assert labels[7] == "microlens-50k (microlens, text, 3,000 users seed 1)"
    assert labels[8] == "microlens-50k (microlens, text, warm-20)"
    assert labels[11] == "demo (text)"


def test_the_store_and_a_recorded_spec_use_the_same_label():
    spec = RunSpec().with_overrides(["data.source=rechorus", "data.path=/data/Beauty",
                                     "data.modality=image"]).to_dict()
    assert data_view(read_spec(spec)) == "Beauty (rechorus, image)"
    # A spec recorded before later settings existed: missing keys are their defaults.
    assert dataset_label({"source": "microlens", "path": "/x/microlens-50k"}) == \
        "microlens-50k (microlens, text)"
