"""Issue 22: `morec data formats` shows lines of the publishers' real files. Each example
without "..." must be a whole line (or its start, up to a tab) of the real file in
../shared/data; a shortened one must start like one."""

from __future__ import annotations

from pathlib import Path

import pytest

from morec_core.data.readers.formats import FORMATS

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
UNISREC = SHARED / "format-samples" / "unisrec-scientific-300"

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data samples not found at {SHARED}"),
]

# (reader, file name in FORMATS) -> the real file it quotes.
REAL = {
    ("pairs", "*_users.tsv | *_pairs.tsv"): SHARED / "microlens-50k" / "MicroLens-50k_pairs.tsv",
    ("microlens", "MicroLens-50k_pairs.tsv"): SHARED / "microlens-50k" / "MicroLens-50k_pairs.tsv",
    ("microlens", "MicroLens-50k_titles.csv (data.items_file)"):
        SHARED / "microlens-50k" / "MicroLens-50k_titles.csv",
    ("mind", "behaviors.tsv"): SHARED / "mind-sample" / "behaviors.tsv",
    ("mind", "news.tsv (data.items_file)"): SHARED / "mind-sample" / "news.tsv",
    ("hm", "transactions_train.csv"): SHARED / "hm-sample" / "transactions_train.csv",
    ("movielens", "ratings.csv | ratings.dat"): SHARED / "movielens-small-posters" / "ratings.csv",
    ("movielens", "movies.csv | movies.dat (data.items_file)"):
        SHARED / "movielens-small-posters" / "movies.csv",
    ("unisrec", "<name>.train.inter"): UNISREC / "Scientific.train.inter",
    ("unisrec", "<name>.valid.inter"): UNISREC / "Scientific.valid.inter",
    ("unisrec", "<name>.test.inter"): UNISREC / "Scientific.test.inter",
    ("unisrec", "<name>.text (data.items_file)"): UNISREC / "Scientific.text",
    ("unisrec", "<name>.item2index"): UNISREC / "Scientific.item2index",
    ("unisrec", "<name>.user2index"): UNISREC / "Scientific.user2index",
}


@pytest.mark.parametrize(("reader", "name"), sorted(REAL))
def test_the_example_is_a_line_of_the_real_file(reader, name):
    (example,) = [file.example for file in FORMATS[reader] if file.name == name]
    text = example.replace("<TAB>", "\t")
    lines = REAL[(reader, name)].read_text(encoding="utf-8").splitlines()
    if "..." in text:
        start = text.split("...")[0]
        assert any(line.startswith(start) for line in lines), example
    else:
        assert text in lines, example


def test_an_image_example_names_a_real_file():
    (hm,) = [file.example for file in FORMATS["hm"] if file.name == "images/"]
    assert (SHARED / "hm-sample" / hm).is_file()
    (poster,) = [file.example for file in FORMATS["movielens"] if file.name == "posters/"]
    assert (SHARED / "movielens-small-posters" / poster).is_file()
