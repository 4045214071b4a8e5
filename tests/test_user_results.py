"""Per-user results: the tie rules' goldens (worked out by hand), storage, and the store's table."""

import math
import sqlite3

import numpy as np
import pytest

from morec_core.run import events as ev
from morec_core.run.user_results import UserResults
from morec_core.store import Store
from morec_core.store.rows import SCHEMA_VERSION


def results(greater, equal, k=3) -> UserResults:
    return UserResults(users=np.arange(len(greater)), greater=np.array(greater),
                       equal=np.array(equal), k=k)


def test_expected_rule_averages_over_the_tied_ranks():
    # k = 3. User 0: rank 1 exactly. User 1: ranks 0..3 equally likely (3 ties), 3 of 4 in the
    # top 3. User 2: 2 above, 1 tie: ranks 2 or 3. User 3: a miss.
    found = results([1, 0, 2, 3], [0, 3, 1, 0])
    assert found.hits("expected").tolist() == [1.0, 0.75, 0.5, 0.0]
    d = [1 / math.log2(r + 2) for r in range(3)]
    assert found.gains("expected").tolist() == pytest.approx(
        [d[1], (d[0] + d[1] + d[2]) / 4, d[2] / 2, 0.0])
    assert found.hits("optimistic").tolist() == [1.0, 1.0, 1.0, 0.0]
    assert found.hits("pessimistic").tolist() == [1.0, 0.0, 0.0, 0.0]
    assert found.gains("pessimistic").tolist() == pytest.approx([d[1], 0.0, 0.0, 0.0])
    assert found.tied().tolist() == [False, True, True, False]
    metrics = found.metrics("expected")
    assert metrics["hr@3"] == pytest.approx(2.25 / 4)
    assert metrics["ties@3"] == 0.5 and metrics["users"] == 4


def test_a_lower_cutoff_reads_off_the_same_counts_and_a_higher_one_is_refused():
    found = results([1, 0, 2, 3], [0, 3, 1, 0])
    assert found.hits("expected", k=1).tolist() == [0.0, 0.25, 0.0, 0.0]
    assert found.values("hr@1", "expected").tolist() == [0.0, 0.25, 0.0, 0.0]
    with pytest.raises(ValueError, match="k=3; cannot read k=10"):
        found.values("ndcg@10", "expected")
    with pytest.raises(ValueError, match="unknown tie rule"):
        found.hits("random")


def test_storage_round_trip_is_exact_and_small():
    rng = np.random.default_rng(0)
    users = 50_000
    greater = np.where(rng.random(users) < 0.1, rng.integers(0, 10, users), 10)
    equal = np.where((greater < 10) & (rng.random(users) < 0.01), rng.integers(1, 5, users), 0)
    original = UserResults(users=np.arange(users), greater=greater, equal=equal, k=10)
    blob = original.to_bytes()
    assert len(blob) < 150_000  # "well under 1 MB per run" for a 50,000-user split
    back = UserResults.from_bytes(blob)
    assert back.k == 10
    for name in ("users", "greater", "equal"):
        assert np.array_equal(getattr(back, name), getattr(original, name)), name
    subset = UserResults(users=np.array([3, 17, 4000]), greater=np.array([0, 10, 2]),
                         equal=np.array([0, 0, 1]), k=10)
    assert UserResults.from_bytes(subset.to_bytes()).users.tolist() == [3, 17, 4000]


def record_run(store: Store, run_id: str, valid_values: list[float]) -> None:
    store.record(ev.RunStarted(run_id=run_id, spec={"train": {"seed": 1}}, spec_key="k",
                               selection_metric="ndcg@3", host="h", pid=1, device="cpu"))
    for epoch, value in enumerate(valid_values):
        per_user = results([epoch, 3], [0, 0])
        store.record(ev.Evaluated(run_id=run_id, epoch=epoch, split="valid",
                                  metrics={"ndcg@3": value}, per_user=per_user))


def test_store_keeps_validation_per_user_results_of_the_best_epoch_only(store_url):
    store = Store(store_url)
    record_run(store, "r1", [0.1, 0.3, 0.2])  # best at epoch 1
    epoch, found = store.user_results(["r1", "missing"], "valid")["r1"]
    assert epoch == 1 and found.greater.tolist() == [1, 3]
    store.record(ev.Evaluated(run_id="r1", epoch=1, split="test", metrics={"ndcg@3": 0.2},
                              per_user=results([0, 1], [2, 0])))
    assert store.user_results(["r1"], "test")["r1"][1].equal.tolist() == [2, 0]
    assert store.user_results(["r1"], "test_cold") == {}


def test_a_schema_1_store_migrates_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.db"
    store = Store(path)
    record_run(store, "old", [0.1])
    store.close()
    # What a morec before per-user results left: schema 1 and no such table.
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE morec_user_results")
        connection.execute("UPDATE morec_schema SET version = 1")
    migrated = Store(path)
    assert migrated.schema_version() == SCHEMA_VERSION
    assert migrated.run("old").best_value == 0.1
    assert migrated.user_results(["old"], "valid") == {}
    record_run(migrated, "new", [0.2])
    assert list(migrated.user_results(["new"], "valid")) == ["new"]


def test_unreadable_per_user_results_are_set_aside_with_their_reason(tmp_path):
    """The run stays (its paired tests cannot use it, as for an older run); the reason is one
    line a reader prints."""
    path = tmp_path / "runs.db"
    store = Store(path)
    record_run(store, "r1", [0.1])
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE morec_user_results SET data = x'00ff00'")
    assert store.user_results(["r1"], "valid") == {}
    [(what, why)] = store.damaged.items()
    assert what == "per-user results of run r1 (valid)"
    assert why.startswith("unreadable (ValueError: per-user results are not a .npz archive")
    assert [run.id for run in store.runs()] == ["r1"]


def _zip_of(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_bomb_of_per_user_results_is_refused_before_it_is_unpacked(monkeypatch):
    """8 MB of zeros deflate to a few kB; with the limit lowered to 1 MB the blob is refused
    from its declared sizes, and nothing is decompressed."""
    import morec_core.run.user_results as module

    whole = UserResults(users=np.arange(1, 4), greater=np.zeros(3, np.int64),
                        equal=np.zeros(3, np.int64), k=10).to_bytes()
    bomb = _zip_of({"user_gaps.npy": b"\0" * 8_000_000, "greater.npy": b"", "equal.npy": b"",
                    "k.npy": b""})
    assert len(bomb) < 20_000
    monkeypatch.setattr(module, "MAX_BLOB_UNPACKED_BYTES", 1_000_000)
    monkeypatch.setattr(module.np, "load", lambda *a, **k: pytest.fail("decompressed"))
    with pytest.raises(ValueError, match=r"would unpack to 8,000,000 bytes, more than the "
                                         r"1,000,000 allowed"):
        UserResults.from_bytes(bomb)
    with pytest.raises(ValueError, match="hold .'extra.npy'"):
        UserResults.from_bytes(_zip_of({"extra.npy": b""}))
    monkeypatch.undo()
    assert len(UserResults.from_bytes(whole)) == 3
