"""Malformed raw data: each case is rejected with one line naming the file and the line or
field at fault, and leaves no prepared folder behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from morec_core.config import DataConfig
from morec_core.data.errors import DataError
from morec_core.data.prepare import prepare

GOOD_RATINGS = "userId,movieId,rating,timestamp\n" + "".join(
    f"1,{movie},4.0,{100 + movie}\n" for movie in range(1, 7))
GOOD_MOVIES = "movieId,title,genres\n" + "".join(
    f"{movie},Film {movie} (1999),Drama\n" for movie in range(1, 7))
GOOD_BEHAVIORS = "1\tU1\t11/15/2019 8:55:22 AM\tN1 N2 N3\tN4-1 N5-0 N6-1\n"
GOOD_NEWS = "".join(f"N{n}\tnews\tus\tTitle {n}\t\thttps://x/{n}\t[]\t[]\n" for n in range(1, 7))
GOOD_TRANSACTIONS = "t_dat,customer_id,article_id,price,sales_channel_id\n" + "".join(
    f"2018-09-2{day},c1,10877501{day},0.1,2\n" for day in range(6))
GOOD_ARTICLES = "article_id,prod_name\n" + "".join(
    f"10877501{day},Top {day}\n" for day in range(6))
GOOD_INTER = "user_id:token\titem_id:token\ttimestamp:float\n" + "".join(
    f"7\ti{item}\t{item}\n" for item in range(6))
GOOD_RECHORUS = "user_id\titem_id\ttime\n" + "".join(
    f"1\t{item}\t{100 + item}\n" for item in range(1, 7))
UNISREC_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
# User 1's items 1..5 as UniSRec writes them: train lines from the last target backwards.
GOOD_UNISREC = UNISREC_HEADER + "1\t1 2\t3\n1\t1\t2\n"
GOOD_UNISREC_VALID = UNISREC_HEADER + "1\t1 2 3\t4\n"
GOOD_UNISREC_TEST = UNISREC_HEADER + "1\t1 2 3 4\t5\n"
GOOD_PAIRS_ITEMS = "item,title\n" + "".join(f"{item},title {item}\n" for item in range(1, 7))

CASES = [
    # (id, source, files, expected message (regex))
    ("pairs: empty users file", "pairs", {"d_users.tsv": ""},
     r"d_users\.tsv: file is empty"),
    ("pairs: line without tab", "pairs", {"d_users.tsv": "u1\t1 2 3 4 5\nu2 1 2 3 4 5\n"},
     r"d_users\.tsv: line 2: expected 'user<TAB>item item \.\.\.'"),
    ("pairs: user without items", "pairs", {"d_users.tsv": "u1\t1 2 3 4 5\nu2\t \n"},
     r"d_users\.tsv: line 2: user 'u2' has no items"),
    ("pairs: user listed twice", "pairs",
     {"d_users.tsv": "u1\t1 2 3\nu2\t1 2 3\nu1\t4 5 6\n"},
     r"d_users\.tsv: line 3: user 'u1' already listed on line 1"),
    ("pairs: users file not utf-8", "pairs", {"d_users.tsv": b"u1\t1 2 3 4 5\nu\xe9\t1 2\n"},
     r"d_users\.tsv: line 2: not valid utf-8 text"),
    ("pairs: items file not utf-8", "pairs",
     {"d_users.tsv": "u1\t1 2 3 4 5\n", "d_items.csv": b"item,title\n1,ok\n2,caf\xe9\n"},
     r"d_items\.csv: line 3: not valid utf-8 text"),
    ("pairs: repeated item id", "pairs",
     {"d_users.tsv": "u1\t1 2 3 4 5\n", "d_items.csv": "item,title\n1,a\n2,b\n1,c\n"},
     r"d_items\.csv: line 4: field 'item': expected an id not seen on an earlier line"),
    ("pairs: ragged items row", "pairs",
     {"d_users.tsv": "u1\t1 2 3 4 5\n", "d_items.csv": "item,title\n1,a\n2,b,extra\n"},
     r"d_items\.csv: line 3: Expected 2 fields in line 3, saw 3"),
    ("pairs: no item has a title", "pairs", {"d_users.tsv": "u1\t1 2 3 4 5\n"},
     r"raw: field 'data\.modality': no item has text: no items file \(looked for "
     r"\*_items\.tsv, .*\); put an item,title CSV beside the users file or set "
     r"data\.items_file=FILE$"),
    ("table: items file without a text column", "table",
     {"interactions.csv": "user_id,item_id\nu1,1\nu1,2\n", "items.csv": "item_id,name\n1,a\n"},
     r"raw: field 'data\.modality': no item has text: items\.csv has no text column \(found: "
     r"item_id, name\); set data\.items_file=FILE and data\.text_columns=COLUMN\[,COLUMN\]$"),
    ("table: items file ids match no interaction", "table",
     {"interactions.csv": "user_id,item_id\nu1,1\nu1,2\n", "items.csv": "item_id,title\nx1,a\n"},
     r"raw: field 'data\.modality': no item has text: items\.csv \(column title\) names no "
     r"item of interactions\.csv \(its ids look like 'x1', the interactions' like '1'\)"),
    ("pairs: filters leave nothing", "pairs",
     {"d_users.tsv": "u1\t1 2 3\nu2\t4 5 6\n", "d_items.csv": GOOD_PAIRS_ITEMS},
     r"raw: field 'data\.min_user_interactions': no interactions left after the filters"),
    ("movielens: missing movies file", "movielens", {"ratings.csv": GOOD_RATINGS},
     r"movies\.csv: missing file"),
    ("movielens: non-integer user id", "movielens",
     {"ratings.csv": GOOD_RATINGS.replace("\n1,2,", "\nu7,2,"), "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: line 3: field 'userId': expected an integer, got 'u7'"),
    ("movielens: missing timestamp column", "movielens",
     {"ratings.csv": "userId,movieId,rating\n1,1,4.0\n", "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: field 'timestamp': missing column \(found: userId, movieId, rating\)"),
    ("movielens: bad timestamp", "movielens",
     {"ratings.csv": GOOD_RATINGS.replace(",101\n", ",yesterday\n"), "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: line 2: field 'timestamp': expected an integer, got 'yesterday'"),
    ("movielens: header only", "movielens",
     {"ratings.csv": "userId,movieId,rating,timestamp\n", "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: no rows"),
    ("movielens: non-integer movie id", "movielens",
     {"ratings.csv": GOOD_RATINGS, "movies.csv": GOOD_MOVIES.replace("\n1,", "\ntt1,")},
     r"movies\.csv: line 2: field 'movieId': expected an integer, got 'tt1'"),
    ("movielens: ratings.csv not utf-8", "movielens",
     {"ratings.csv": GOOD_RATINGS.encode() + b"2,\xff,1.0,5\n", "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: line 8: not valid utf-8 text"),
    ("movielens: .dat row with a missing field", "movielens",
     {"ratings.dat": "1::1::5::978300760\n1::2::5\n1::3::4::978300761::x\n",
      "movies.dat": "1::A (1999)::Drama\n"},
     r"ratings\.dat: line 3: Expected 4 fields in line 3, saw 5"),
    ("mind: bad impression time", "mind",
     {"behaviors.tsv": GOOD_BEHAVIORS.replace("8:55:22 AM", "25:61:00"), "news.tsv": GOOD_NEWS},
     r"behaviors\.tsv: line 1: field 'time': expected a time like '%m/%d/%Y %I:%M:%S %p'"),
    ("mind: impression without label", "mind",
     {"behaviors.tsv": GOOD_BEHAVIORS + "2\tU2\t11/15/2019 9:00:00 AM\t\tN4-1 N5\n",
      "news.tsv": GOOD_NEWS},
     r"behaviors\.tsv: line 2: field 'impressions': expected impressions like 'N123-1 N456-0'"),
    ("mind: missing user id", "mind",
     {"behaviors.tsv": GOOD_BEHAVIORS.replace("U1", ""), "news.tsv": GOOD_NEWS},
     r"behaviors\.tsv: line 1: field 'user': expected a non-empty value"),
    ("mind: news row with extra field", "mind",
     {"behaviors.tsv": GOOD_BEHAVIORS, "news.tsv": GOOD_NEWS + "N9\ta\tb\tc\td\te\tf\tg\th\n"},
     r"news\.tsv: line 7: Expected 8 fields in line 7, saw 9"),
    ("hm: missing article_id column", "hm",
     {"transactions_train.csv": GOOD_TRANSACTIONS.replace("article_id", "article"),
      "articles.csv": GOOD_ARTICLES},
     r"transactions_train\.csv: field 'article_id': missing column"),
    ("hm: bad date", "hm",
     {"transactions_train.csv": GOOD_TRANSACTIONS.replace("2018-09-21", "21/09/2018"),
      "articles.csv": GOOD_ARTICLES},
     r"transactions_train\.csv: line 3: field 't_dat': expected a time like '%Y-%m-%d'"),
    ("hm: non-integer article id", "hm",
     {"transactions_train.csv": GOOD_TRANSACTIONS, "articles.csv":
      GOOD_ARTICLES.replace("108775010,", "A108775010,")},
     r"articles\.csv: line 2: field 'article_id': expected an integer, got 'A108775010'"),
    ("hm: article id over 10 digits", "hm",
     {"transactions_train.csv": GOOD_TRANSACTIONS.replace("c1,108775012", "c1,99108775012"),
      "articles.csv": GOOD_ARTICLES},
     r"transactions_train\.csv: line 4: field 'article_id': article id must have at most 10"),
    ("recbole: untyped header", "recbole",
     {"toy.inter": GOOD_INTER.replace("user_id:token", "user_id")},
     r"toy\.inter: line 1: header field 'user_id' is not name:type"),
    ("recbole: missing item_id", "recbole",
     {"toy.inter": GOOD_INTER.replace("item_id:token", "item:token")},
     r"toy\.inter: field 'item_id': missing column"),
    ("recbole: bad timestamp", "recbole",
     {"toy.inter": GOOD_INTER.replace("\ti1\t1\n", "\ti1\tsoon\n")},
     r"toy\.inter: line 3: field 'timestamp': expected a number, got 'soon'"),
    # Issue 12: ids beyond int64 (numpy's OverflowError), NUL bytes inside ids.
    ("movielens: user id beyond int64", "movielens",
     {"ratings.csv": GOOD_RATINGS.replace("\n1,2,", "\n99999999999999999999,2,"),
      "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: line 3: field 'userId': expected an integer in the int64 range "
     r"\(-2\*\*63 to 2\*\*63 - 1\), got '99999999999999999999'$"),
    ("movielens: .dat movie id beyond int64", "movielens",
     {"ratings.dat": "1::1::5::978300760\n1::9223372036854775808::5::978300761\n",
      "movies.dat": "1::A (1999)::Drama\n"},
     r"ratings\.dat: line 2: field 'movieId': expected an integer in the int64 range"),
    ("movielens: timestamp below int64", "movielens",
     {"ratings.csv": GOOD_RATINGS.replace(",103\n", ",-9223372036854775809\n"),
      "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: line 4: field 'timestamp': expected an integer in the int64 range"),
    ("hm: article id beyond int64", "hm",
     {"transactions_train.csv": GOOD_TRANSACTIONS.replace("c1,108775012", "c1,99999999999999999999"),
      "articles.csv": GOOD_ARTICLES},
     r"transactions_train\.csv: line 4: field 'article_id': expected an integer in the int64"),
    ("pairs: NUL in a user id", "pairs", {"d_users.tsv": "u1\t1 2 3 4 5\nu\x002\t1 2 3 4 5\n"},
     r"d_users\.tsv: line 2: contains a NUL byte \(\\x00\); a binary or UTF-16 file\?$"),
    ("pairs: NUL in an item id", "pairs",
     {"d_users.tsv": "u1\t1 2 3 4 5\n", "d_items.csv": "item,title\n1,a\n2\x00,b\n"},
     r"d_items\.csv: line 3: contains a NUL byte"),
    ("movielens: NUL in a movie id", "movielens",
     {"ratings.csv": GOOD_RATINGS.replace("\n1,3,", "\n1,3\x00,"), "movies.csv": GOOD_MOVIES},
     r"ratings\.csv: line 4: contains a NUL byte"),
    ("movielens: NUL in a .dat user id", "movielens",
     {"ratings.dat": "1::1::5::978300760\n1\x00::2::5::978300761\n",
      "movies.dat": "1::A (1999)::Drama\n"},
     r"ratings\.dat: line 2: contains a NUL byte"),
    ("mind: NUL in a news id", "mind",
     {"behaviors.tsv": GOOD_BEHAVIORS, "news.tsv": GOOD_NEWS.replace("N3\t", "N\x003\t")},
     r"news\.tsv: line 3: contains a NUL byte"),
    ("hm: NUL in a customer id", "hm",
     {"transactions_train.csv": GOOD_TRANSACTIONS.replace(",c1,108775013", ",c\x001,108775013"),
      "articles.csv": GOOD_ARTICLES},
     r"transactions_train\.csv: line 5: contains a NUL byte"),
    ("recbole: NUL in an item id", "recbole",
     {"toy.inter": GOOD_INTER.replace("\ti2\t", "\ti\x002\t")},
     r"toy\.inter: line 4: contains a NUL byte"),
    # Issue 14: the rechorus, unisrec and table readers.
    ("rechorus: missing dev.csv", "rechorus",
     {"train.csv": GOOD_RECHORUS, "test.csv": GOOD_RECHORUS},
     r"raw: missing file dev\.csv \(a ReChorus folder holds train\.csv, dev\.csv, test\.csv"),
    ("rechorus: bad time", "rechorus",
     {"train.csv": GOOD_RECHORUS, "dev.csv": GOOD_RECHORUS.replace("\t102\n", "\tsoon\n"),
      "test.csv": GOOD_RECHORUS},
     r"dev\.csv: line 3: field 'time': expected a number, got 'soon'"),
    ("rechorus: no time column", "rechorus",
     {"train.csv": "user_id\titem_id\n1\t2\n", "dev.csv": GOOD_RECHORUS,
      "test.csv": GOOD_RECHORUS},
     r"train\.csv: field 'time': missing column \(found: user_id, item_id\)"),
    ("unisrec: missing test split", "unisrec",
     {"toy.train.inter": GOOD_UNISREC, "toy.valid.inter": GOOD_UNISREC},
     r"raw: missing file toy\.test\.inter \(looked for toy\.train\.inter, toy\.valid\.inter"),
    ("unisrec: repeated item in .text", "unisrec",
     {"toy.train.inter": GOOD_UNISREC, "toy.valid.inter": GOOD_UNISREC_VALID,
      "toy.test.inter": GOOD_UNISREC_TEST,
      "toy.text": "item_id:token\ttext:token_seq\n1\ta\n2\tb\n1\tc\n"},
     r"toy\.text: line 4: field 'item_id': expected an id not seen on an earlier line"),
    # Train lines in file order (our old reading of the format): the first line's history
    # then disagrees with the sequence the last line starts.
    ("unisrec: train lines not from the last target backwards", "unisrec",
     {"toy.train.inter": UNISREC_HEADER + "1\t1\t2\n1\t1 2\t3\n",
      "toy.valid.inter": GOOD_UNISREC_VALID, "toy.test.inter": GOOD_UNISREC_TEST},
     r"toy\.train\.inter: line 2: user '1': the history does not hold the latest 4 items "
     r"before its target"),
    ("unisrec: .text ids match neither the .inter ids nor item2index", "unisrec",
     {"toy.train.inter": GOOD_UNISREC, "toy.valid.inter": GOOD_UNISREC_VALID,
      "toy.test.inter": GOOD_UNISREC_TEST, "toy.item2index": "B01\t1\nB02\t2\n",
      "toy.text": "item_id:token\ttext:token_seq\nX9\ta pen\n"},
     r"toy\.text: none of its 1 item ids is an item of toy\.train\.inter nor a key of "
     r"toy\.item2index \(first unmatched: 'X9'"),
    ("unisrec: no .text", "unisrec",
     {"toy.train.inter": GOOD_UNISREC, "toy.valid.inter": GOOD_UNISREC_VALID,
      "toy.test.inter": GOOD_UNISREC_TEST},
     r"raw: field 'data\.modality': no item has text: no items file \(looked for toy\.text\); "
     r"set data\.items_file=<the text file>"),
    ("rechorus: user2index lacks a user", "rechorus",
     {"train.csv": "user_id\titem_id\ttime\n1\t1\t1\n1\t2\t2\n1\t3\t3\n",
      "dev.csv": "user_id\titem_id\ttime\n1\t4\t4\n",
      "test.csv": "user_id\titem_id\ttime\n1\t5\t5\n", "G.user2index": "A9\t7\n"},
     r"G\.user2index: 1 users of the csv files \(first '1'\) have no line here"),
    ("unisrec: user2index lacks a user", "unisrec",
     {"toy.train.inter": GOOD_UNISREC, "toy.valid.inter": GOOD_UNISREC_VALID,
      "toy.test.inter": GOOD_UNISREC_TEST, "toy.user2index": "A7\t0\n"},
     r"toy\.user2index: 1 users of the \.inter files \(first '1'\) have no line here"),
    ("rechorus: .text ids match nothing", "rechorus",
     {"train.csv": "user_id\titem_id\ttime\n1\t1\t1\n1\t2\t2\n1\t3\t3\n",
      "dev.csv": "user_id\titem_id\ttime\n1\t4\t4\n",
      "test.csv": "user_id\titem_id\ttime\n1\t5\t5\n",
      "Grocery.text": "item_id\ttext\nB0X\tcoffee\n"},
     r"Grocery\.text: none of its 1 item ids is an item of train\.csv \(first unmatched: "
     r"'B0X'"),
    ("table: no interactions file", "table", {"items.csv": "item_id,title\n1,a\n"},
     r"raw: missing file: looked for interactions\.csv, interactions\.tsv, "
     r"interactions\.parquet"),
    ("table: mapping names a missing column", "table",
     {"interactions.csv": "user,item\nu1,1\n"},
     r"interactions\.csv: field 'user_id': data\.user_column names a missing column "
     r"\(found: user, item\)$"),
    ("table: empty item id", "table",
     {"interactions.tsv": "user_id\titem_id\nu1\t1\nu1\t\n"},
     r"interactions\.tsv: line 3: field 'item_id': expected a non-empty value"),
]


def _write_files(folder: Path, files: dict[str, str | bytes]) -> Path:
    """`folder` with each file of `files` (text as UTF-8)."""
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content.encode("utf-8") if isinstance(content, str)
                                    else content)
    return folder


@pytest.mark.parametrize("source, files, expected", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_malformed_input_is_named_down_to_the_line_or_field(tmp_path, data_root, source, files,
                                                            expected):
    folder = _write_files(tmp_path / "raw", files)
    config = DataConfig(source=source, path=str(folder), min_user_interactions=5)
    with pytest.raises(DataError, match=expected) as raised:
        prepare(config)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(str(folder)), message  # every message names its file or folder
    prepared = data_root / "prepared"
    assert not prepared.exists() or not any(prepared.iterdir())


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


LONG = 2_000_000  # a corrupt multi-megabyte line: the message must quote ~80 characters of it


def _long_cases() -> list[tuple[str, str, dict[str, str], str]]:
    quoted = "x" * 79 + "..."  # excerpt: the first 80 characters of the repr, then "..."
    x = "x" * LONG
    return [
        ("a cell", "movielens", {"ratings.csv": GOOD_RATINGS.replace("\n1,2,", f"\n{x},2,"),
                                 "movies.csv": GOOD_MOVIES},
         f"ratings.csv: line 3: field 'userId': expected an integer, got '{quoted}"),
        ("a header", "movielens", {"ratings.csv": f"userId,movieId,{x}\n1,1,4\n",
                                   "movies.csv": GOOD_MOVIES},
         "ratings.csv: field 'timestamp': missing column (found: userId, movieId, "
         + "x" * (80 - len("userId, movieId, ")) + "...)"),
        ("a user", "pairs", {"d_users.tsv": f"{x}\t1 2 3\n{x}\t4 5 6\n"},
         f"d_users.tsv: line 2: user '{quoted} already listed on line 1"),
        ("an impression", "mind",
         {"behaviors.tsv": GOOD_BEHAVIORS.replace("N5-0", x), "news.tsv": GOOD_NEWS},
         f"behaviors.tsv: line 1: field 'impressions': expected impressions like "
         f"'N123-1 N456-0', got '{quoted}"),
        ("a header field", "recbole", {"toy.inter": GOOD_INTER.replace("user_id:token", x)},
         f"toy.inter: line 1: header field '{quoted} is not name:type with type in float, "
         "float_seq, token, token_seq"),
    ]


@pytest.mark.parametrize("source, files, expected", [case[1:] for case in _long_cases()],
                         ids=[case[0] for case in _long_cases()])
def test_a_long_bad_line_is_quoted_in_about_80_characters(tmp_path, data_root, source, files,
                                                         expected):
    folder = _write_files(tmp_path / "raw", files)
    with pytest.raises(DataError) as raised:
        prepare(DataConfig(source=source, path=str(folder)))
    assert str(raised.value) == f"{folder}/{expected}"


@pytest.mark.parametrize("kind", ["dangling symbolic link", "folder"])
def test_an_image_that_is_not_a_file_is_named_and_leaves_no_cache(tmp_path, data_root,
                                                                 write_pairs, kind):
    from PIL import Image

    from morec_core.data.images import image_cache

    folder = write_pairs(tmp_path / "raw", {"u1": ["1", "2", "3", "4", "5"]})
    images = (folder / "images").resolve()
    images.mkdir()
    for item in "1245":
        Image.new("RGB", (4, 4), (9, 9, 9)).save(images / f"{item}.jpg")
    broken = images / "3.jpg"
    if kind == "folder":
        broken.mkdir()
        expected = f"{broken}: is a folder, not an image file"
    else:
        broken.symlink_to(tmp_path / "moved.jpg")
        expected = f"{broken}: dangling symbolic link (to '{tmp_path / 'moved.jpg'}')"
    # Listed like any image, not dropped: item 3 keeps its interaction and its (broken) path.
    dataset = prepare(DataConfig(source="pairs", path=str(folder), modality="image"))
    assert dataset.num_items == 5 and str(broken) in dataset.content.image_paths
    cache_dir = data_root / "cache"
    with pytest.raises(DataError) as raised:
        image_cache(dataset.content.image_paths, size=16, cache_dir=cache_dir, progress=False)
    assert str(raised.value) == expected
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []


def test_eval_k_above_the_catalogue_is_refused_once_the_data_is_known(tmp_path, data_root,
                                                                    write_pairs):
    import torch

    from morec_core.config import ConfigError, RunSpec
    from morec_core.run.build import build_run

    folder = write_pairs(tmp_path / "raw", {"u1": ["1", "2", "3", "4", "5", "6"]},
                         {str(item): f"title {item}" for item in range(1, 7)})
    spec = RunSpec().with_overrides(["data.source=pairs", f"data.path={folder}", "eval.k=7"])
    with pytest.raises(ConfigError) as raised:
        build_run(spec, torch.device("cpu"))
    assert str(raised.value) == ("eval.k: 7 is more than the 6 items of raw; HR@k and NDCG@k "
                                 "rank the whole catalogue")
    assert build_run(spec.with_overrides(["eval.k=6"]), torch.device("cpu")).dataset.num_items == 6


def test_a_full_disk_while_preparing_leaves_no_prepared_folder(tmp_path, data_root, write_pairs,
                                                               monkeypatch):
    import errno

    import numpy as np

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    folder = write_pairs(tmp_path / "raw", {"u1": ["1", "2", "3", "4", "5"]})
    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        prepare(DataConfig(source="pairs", path=str(folder)), require_content=False)
    assert list((data_root / "prepared").iterdir()) == []  # not even a dot-temporary
