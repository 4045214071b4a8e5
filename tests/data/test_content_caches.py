"""Token and image caches: built once, reused while inputs are unchanged, rebuilt when not."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from morec_core.data import images as images_module
from morec_core.data.errors import DataError
from morec_core.data.images import image_cache
from morec_core.data.tokens import token_cache

TITLES = ["", "the red cat", "a big blue dog movie , the red cat . the small dog", "news"]


class CountingTokenizer:
    """Wraps a tokenizer and counts calls, to prove a cache hit does not tokenize."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.inner(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __len__(self):
        return len(self.inner)


def test_token_cache_shapes_padding_and_padding_item(tokenizer, tmp_path):
    cache = token_cache(TITLES, tokenizer, max_tokens=6, cache_dir=tmp_path / "cache",
                        progress=False)
    cls, sep, pad = tokenizer.convert_tokens_to_ids(["[CLS]", "[SEP]", "[PAD]"])
    assert cache.ids.shape == (4, 6) and cache.ids.dtype == np.int32
    assert cache.lengths.dtype == np.int32
    assert cache.ids[0].tolist() == [cls, sep, pad, pad, pad, pad]  # padding item: [CLS] [SEP]
    assert cache.lengths.tolist() == [2, 5, 6, 3]  # row 2 truncated to max_tokens
    red_cat = tokenizer.convert_tokens_to_ids(["the", "red", "cat"])
    assert tokenizer.unk_token_id not in red_cat
    assert cache.ids[1].tolist() == [cls, *red_cat, sep, pad]
    assert cache.ids[2, -1] == sep  # truncation keeps the closing special token


def test_token_cache_is_reused_and_invalidated(tokenizer, tmp_path):
    counting = CountingTokenizer(tokenizer)
    cache_dir = tmp_path / "cache"
    first = token_cache(TITLES, counting, max_tokens=8, cache_dir=cache_dir, progress=False)
    calls = counting.calls
    again = token_cache(TITLES, counting, max_tokens=8, cache_dir=cache_dir, progress=False)
    assert counting.calls == calls and again.path == first.path
    assert np.array_equal(again.ids, first.ids)
    shorter = token_cache(TITLES, counting, max_tokens=4, cache_dir=cache_dir, progress=False)
    edited = token_cache([*TITLES[:3], "dog"], counting, max_tokens=8, cache_dir=cache_dir,
                         progress=False)
    assert len({first.path, shorter.path, edited.path}) == 3
    assert counting.calls > calls
    assert sorted(path.name.startswith("tokens-") for path in cache_dir.iterdir()) == [True] * 3


def _write(path: Path, color, size=(10, 6), image_format="PNG") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=image_format)
    return str(path)


def test_image_cache_squashes_pads_and_is_read_only(tmp_path):
    paths = ["", _write(tmp_path / "a.png", (255, 0, 0)),
             "", _write(tmp_path / "b.jpg", (0, 0, 255), size=(40, 30), image_format="JPEG")]
    array = image_cache(paths, size=16, cache_dir=tmp_path / "cache", progress=False)
    assert isinstance(array, np.memmap) and not array.flags.writeable
    assert array.shape == (4, 16, 16, 3) and array.dtype == np.uint8
    assert not array[0].any() and not array[2].any()
    assert array[1].reshape(-1, 3).mean(axis=0).round().tolist() == [255, 0, 0]
    blue = array[3].reshape(-1, 3).mean(axis=0)
    assert blue[2] > 240 and blue[0] < 15


def test_image_cache_is_reused_until_an_image_changes(tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    paths = ["", _write(tmp_path / "a.png", (10, 20, 30))]
    first = image_cache(paths, size=8, cache_dir=cache_dir, progress=False)

    def no_decoding(path, size):
        raise AssertionError("a cache hit must not decode images")

    monkeypatch.setattr(images_module, "load_image", no_decoding)
    reused = image_cache(paths, size=8, cache_dir=cache_dir, progress=False)
    assert reused.filename == first.filename
    monkeypatch.undo()
    _write(tmp_path / "a.png", (200, 100, 0))
    stat = os.stat(paths[1])
    os.utime(paths[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    rebuilt = image_cache(paths, size=8, cache_dir=cache_dir, progress=False)
    assert rebuilt.filename != first.filename
    assert rebuilt[1, 0, 0].tolist() == [200, 100, 0]


def test_unreadable_image_is_an_error_naming_it_and_leaves_no_cache(tmp_path):
    cache_dir = tmp_path / "cache"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    paths = ["", _write(tmp_path / "ok.png", (1, 2, 3)), str(broken)]
    with pytest.raises(DataError, match=r"1 of 2 item images cannot be read in \S+: broken\.jpg \("):
        image_cache(paths, size=8, cache_dir=cache_dir, progress=False)
    assert list(cache_dir.iterdir()) == []
    with pytest.raises(DataError, match=r"gone\.jpg: missing image file"):
        image_cache(["", str(tmp_path / "gone.jpg")], size=8, cache_dir=cache_dir, progress=False)


def test_three_kinds_of_bad_image_are_one_line_naming_each_file_and_its_reason(tmp_path):
    """A text file named .jpg, a truncated JPEG and a decompression bomb (a 1-bit PNG of
    20000 x 20000: 50 kB on disk, 1.2 GB decoded): one error, one line, each file named once
    with its reason, and no cache left behind."""
    cache_dir = tmp_path / "cache"
    text = tmp_path / "text.jpg"
    text.write_text("this is not an image\n")
    whole = Path(_write(tmp_path / "whole.jpg", (9, 9, 9), size=(64, 64), image_format="JPEG"))
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    bomb = tmp_path / "bomb.jpg"
    Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")
    paths = ["", str(whole), str(text), str(truncated), str(bomb)]
    with pytest.raises(DataError) as caught:
        image_cache(paths, size=8, cache_dir=cache_dir, progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"3 of 4 item images cannot be read in {tmp_path}: ")
    assert "text.jpg (not an image" in message
    assert "truncated.jpg (truncated image file" in message
    assert "bomb.jpg (too large to decode safely (400,000,000 pixels)" in message
    assert all(message.count(name) == 1 for name in ("text.jpg", "truncated.jpg", "bomb.jpg"))
    assert "whole.jpg" not in message and list(cache_dir.iterdir()) == []


def test_bad_images_past_the_first_three_are_counted(tmp_path):
    bad = []
    for index in range(5):
        path = tmp_path / f"bad{index}.jpg"
        path.write_text("not an image")
        bad.append(str(path))
    with pytest.raises(DataError, match=r"^5 of 5 item images .*; and 2 more$"):
        image_cache(["", *bad], size=8, cache_dir=tmp_path / "cache", progress=False)
