"""Writers of each publisher's layout, after what the publishers' own preprocessing does (read
from their code, written anew here): a known set of sequences goes in, the files a reader
meets come out. The round-trip tests read them back and compare whole sequences.

- UniSRec, dataset/preprocessing/process_amazon.py (convert_to_atomic_files): per user, one
  train line per training target from the LAST one backwards, histories cut to the latest 50;
  ids by first appearance, written to <name>.item2index / <name>.user2index; <name>.text keyed
  by the raw id.
- ReChorus, data/*/Amazon.ipynb: one table sorted by (time, user) (a stable sort), ids from 1 in
  sorted raw-id order, each user's first row kept in train, the last row to test and the one
  before to dev (with a neg_items list), train in the table's order.
- RecBole atomic files (RecSysDatasets conversions): one row per interaction in the raw
  file's order (not sorted), typed header.
- MicroLens pairs, MIND behaviors/news, H&M transactions/articles, MovieLens ratings/movies
  (sorted by userId, then movieId), and a generic table.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

Sequences = dict[str, list[str]]
Timed = dict[str, list[tuple[str, int]]]
"""user -> [(item, time)], chronological; equal times keep this order."""

INTER_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
UNISREC_CUT = 50


def timed(sequences: Sequences, *, ties: bool = True, start: int = 1_000_000) -> Timed:
    """Times for `sequences`: users interleave (user k's j-th item at start + 10 j + k), and,
    with `ties`, each user's second item shares the first item's time."""
    result: Timed = {}
    for rank, (user, items) in enumerate(sequences.items()):
        times = [start + 10 * position + rank for position in range(len(items))]
        if ties and len(times) > 2:
            times[1] = times[0]
        result[user] = list(zip(items, times, strict=True))
    return result


def first_only(sequences: Sequences) -> Sequences:
    """What data.dedupe=first makes of `sequences`: each (user, item) pair's first occurrence."""
    return {user: list(dict.fromkeys(items)) for user, items in sequences.items()}


def write_unisrec(folder: Path, sequences: Sequences, texts: dict[str, str],
                  name: str = "Scientific") -> Sequences:
    """UniSRec's files for `sequences` (raw user and item ids, oldest first); returns the
    sequences in the .inter ids, which a reader must rebuild."""
    folder.mkdir(parents=True, exist_ok=True)
    user_index: dict[str, str] = {}
    item_index: dict[str, str] = {}
    for user, items in sequences.items():
        user_index.setdefault(user, str(len(user_index)))
        for item in items:
            item_index.setdefault(item, str(len(item_index)))
    indexed = {user_index[user]: [item_index[item] for item in items]
               for user, items in sequences.items()}
    train, valid, test = [INTER_HEADER], [INTER_HEADER], [INTER_HEADER]
    for user, items in indexed.items():
        train_items, valid_item, test_item = items[:-2], items[-2], items[-1]
        for back in range(1, len(train_items)):
            history = train_items[:-back][-UNISREC_CUT:]
            train.append(f"{user}\t{' '.join(history)}\t{train_items[-back]}\n")
        valid.append(f"{user}\t{' '.join(train_items[-UNISREC_CUT:])}\t{valid_item}\n")
        test.append(f"{user}\t{' '.join((train_items + [valid_item])[-UNISREC_CUT:])}\t"
                    f"{test_item}\n")
    for suffix, lines in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{name}.{suffix}.inter").write_text("".join(lines), encoding="utf-8")
    # .text in the metadata file's order (here: reversed), keyed by the raw id; a trailing
    # space as UniSRec's clean_text joins leave.
    (folder / f"{name}.text").write_text(
        "item_id:token\ttext:token_seq\n"
        + "".join(f"{item}\t{texts[item]} \n" for item in reversed(list(item_index))),
        encoding="utf-8")
    (folder / f"{name}.item2index").write_text(
        "".join(f"{item}\t{index}\n" for item, index in item_index.items()), encoding="utf-8")
    (folder / f"{name}.user2index").write_text(
        "".join(f"{user}\t{index}\n" for user, index in user_index.items()), encoding="utf-8")
    return indexed


def write_rechorus(folder: Path, rows: Timed, seed: int = 0) -> Sequences:
    """ReChorus' train/dev/test.csv for `rows` (raw ids); returns the sequences in the csv
    ids (from 1, in sorted raw-id order) in the order a reader must rebuild."""
    folder.mkdir(parents=True, exist_ok=True)
    table = [(user, item, time) for user, items in rows.items() for item, time in items]
    # sort_values(by=['time', 'user_id'], kind='mergesort'): ties keep the input order.
    table.sort(key=lambda row: (row[2], row[0]))
    user_id = {user: rank + 1 for rank, user in enumerate(sorted({row[0] for row in table}))}
    item_id = {item: rank + 1 for rank, item in enumerate(sorted({row[1] for row in table}))}
    indexed = [(user_id[user], item_id[item], time) for user, item, time in table]
    first_rows = {position for position in range(len(indexed))
                  if all(indexed[earlier][0] != indexed[position][0]
                         for earlier in range(position))}
    rest = [position for position in range(len(indexed)) if position not in first_rows]
    test, dev = _tail_each(indexed, rest), []
    rest = [position for position in rest if position not in test]
    dev = _tail_each(indexed, rest)
    train = sorted(first_rows | {position for position in rest if position not in dev})
    generator = random.Random(seed)
    negatives = lambda: str([generator.randint(1, len(item_id)) for _ in range(3)])  # noqa: E731
    (folder / "train.csv").write_text("user_id\titem_id\ttime\n" + "".join(
        f"{indexed[p][0]}\t{indexed[p][1]}\t{indexed[p][2]}\n" for p in train))
    for name, positions in (("dev", dev), ("test", test)):
        (folder / f"{name}.csv").write_text("user_id\titem_id\ttime\tneg_items\n" + "".join(
            f"{indexed[p][0]}\t{indexed[p][1]}\t{indexed[p][2]}\t{negatives()}\n"
            for p in sorted(positions)))
    sequences: Sequences = {}
    for user, item, _ in indexed:
        sequences.setdefault(str(user), []).append(str(item))
    return {user: sequences[user] for user in sorted(sequences, key=int)}


def _tail_each(rows: list[tuple[int, int, int]], positions: list[int]) -> list[int]:
    """groupby('user_id').tail(1): each user's last position among `positions`."""
    last: dict[int, int] = {}
    for position in positions:
        last[rows[position][0]] = position
    return sorted(last.values())


def shuffled_keeping_ties(rows: list[tuple[str, str, int]], seed: int) -> list[tuple[str, str,
                                                                                       int]]:
    """`rows` in a random file order, where rows of one user with one time keep their order
    (the order the file must give them: a reader breaks ties by file order)."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    shuffled = [rows[index] for index in order]
    groups: dict[tuple[str, int], list[int]] = {}
    for position, (user, _, time) in enumerate(shuffled):
        groups.setdefault((user, time), []).append(position)
    result = list(shuffled)
    for (user, time), positions in groups.items():
        members = [row for row in rows if row[0] == user and row[2] == time]
        for position, row in zip(positions, members, strict=True):
            result[position] = row
    return result


def write_recbole(folder: Path, rows: Timed, titles: dict[str, str], name: str = "ml") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    flat = [(user, item, time) for user, items in rows.items() for item, time in items]
    lines = [f"{user}\t{item}\t4\t{time}\n" for user, item, time in shuffled_keeping_ties(flat, 1)]
    (folder / f"{name}.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + "".join(lines))
    (folder / f"{name}.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        + "".join(f"{item}\t{title}\t1995\tDrama\n" for item, title in titles.items()))


def write_pairs(folder: Path, sequences: Sequences, titles: dict[str, str]) -> None:
    """MicroLens' layout: MicroLens-50k_pairs.tsv (chronological, no header) and the titles
    CSV with a header."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MicroLens-50k_pairs.tsv").write_text(
        "".join(f"{user}\t{' '.join(items)}\n" for user, items in sequences.items()))
    (folder / "MicroLens-50k_titles.csv").write_text(
        "item,title\n" + "".join(f'{item},"{title}"\n' for item, title in titles.items()))


MIND_TIME = "%m/%d/%Y %I:%M:%S %p"


def write_mind(folder: Path, sequences: Sequences, titles: dict[str, str],
               history_length: int = 3) -> None:
    """MIND: each user's first `history_length` items are the history, repeated on every one
    of their impression lines; the others are clicked (-1) one or two per impression, beside a
    non-clicked (-0) item; lines are not in time order, times may tie across users."""
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2019, 11, 9, 0, 0, 0)
    lines = []
    for rank, (user, items) in enumerate(sequences.items()):
        history, clicks = items[:history_length], items[history_length:]
        for number, begin in enumerate(range(0, len(clicks), 2)):
            shown = [f"{item}-1" for item in clicks[begin:begin + 2]] + ["N0-0"]
            when = start + timedelta(minutes=30 * number, seconds=rank)
            lines.append((user, when, " ".join(history), " ".join(shown)))
    random.Random(2).shuffle(lines)
    (folder / "behaviors.tsv").write_text("".join(
        f"{number}\t{user}\t{when.strftime(MIND_TIME).replace(' 0', ' ')}\t{history}\t{shown}\n"
        for number, (user, when, history, shown) in enumerate(lines, start=1)))
    (folder / "news.tsv").write_text("".join(
        f"{item}\tnews\tus\t{title}\tAn abstract.\thttps://x/{item}\t[]\t[]\n"
        for item, title in titles.items()))


def write_hm(folder: Path, rows: Timed, titles: dict[str, str]) -> None:
    """H&M: transactions sorted by day (t_dat), customers interleaved within a day, a repeat
    purchase a row of its own; article ids written without their leading zero."""
    folder.mkdir(parents=True, exist_ok=True)
    flat = [(user, item, time) for user, items in rows.items() for item, time in items]
    flat.sort(key=lambda row: row[2] // 10)  # stable: a day keeps the order given
    day = datetime(2018, 9, 20)
    (folder / "transactions_train.csv").write_text(
        "t_dat,customer_id,article_id,price,sales_channel_id\n" + "".join(
            f"{(day + timedelta(days=time // 10)).date()},{user},{int(item)},0.05,2\n"
            for user, item, time in flat))
    (folder / "articles.csv").write_text(
        "article_id,product_code,prod_name,detail_desc\n" + "".join(
            f"{int(item)},{int(item) // 1000},{title},A description.\n"
            for item, title in titles.items()))


def write_movielens(folder: Path, rows: Timed, titles: dict[str, str]) -> None:
    """ratings.csv sorted by userId then movieId, as GroupLens publishes it."""
    folder.mkdir(parents=True, exist_ok=True)
    flat = sorted(((int(user), int(item), time) for user, items in rows.items()
                   for item, time in items), key=lambda row: (row[0], row[1]))
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
        f"{user},{item},4.0,{time}\n" for user, item, time in flat))
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(
        f'{item},"{title} (1995)",Drama|Crime\n' for item, title in titles.items()))


def write_table(folder: Path, rows: Timed, titles: dict[str, str]) -> None:
    """A shop's export: events in random order with ISO 8601 times, a catalogue CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    flat = [(user, item, time) for user, items in rows.items() for item, time in items]
    origin = datetime(2024, 1, 1)
    (folder / "events.csv").write_text("customer,sku,when\n" + "".join(
        f"{user},{item},{(origin + timedelta(seconds=time)).isoformat()}\n"
        for user, item, time in shuffled_keeping_ties(flat, 3)))
    (folder / "catalogue.csv").write_text(
        "sku,name\n" + "".join(f"{item},{title}\n" for item, title in titles.items()))
