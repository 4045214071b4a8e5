"""Malformed raw data: each case is rejected with one line naming the file and the line or
field at fault, and leaves no prepared folder behind."""

from __future__ import annotations

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
     r"raw: field 'data\.modality': no item has text content"),
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
]


@pytest.mark.parametrize("source, files, expected", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_malformed_input_is_named_down_to_the_line_or_field(tmp_path, data_root, source, files,
                                                            expected):
    folder = tmp_path / "raw"
    folder.mkdir()
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
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
