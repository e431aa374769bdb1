"""``/api/live/record`` on a record anyone may have written: damaged lines skipped, every answer bounded.

A real server in this process follows a run folder whose record the test writes; tracemalloc sees the
server's threads too, so the memory an answer takes is measured where it is spent.
"""

import json
import os
import tracemalloc

import pytest

from glassnet.diagnostics.lines import MAX_PIECE_BYTES, MAX_PIECE_LINES
from glassnet.diagnostics.record import RECORD_NAME
from glassnet.files import RECORD_LINE
from tests.web.client import request

META = b'{"kind": "meta", "epoch": 0}'
TICK = b'{"kind": "tick", "epoch": 1, "step": 10, "loss": 0.5}'


def _answer(url: str, offset: int) -> dict:
    status, body, _ = request(url, "GET", f"/api/live/record?offset={offset}")
    assert status == 200, body
    return body


@pytest.mark.parametrize("line", [
    b'{"kind": "tick", "loss": NaN}',
    b'{"kind": "tick", "loss": Infinity}',
    b'{"kind": "tick", "loss": -Infinity}',
    b'{"kind": "tick", "loss": 1e400}',
    b'{"kind": "tick", "step": ' + b"9" * 400 + b"}",           # beyond float64, as a browser reads it
    b'{"kind": "tick", "step": ' + b"9" * 5000 + b"}",          # past Python's integer digit limit
    b"{not json",
    b'{"kind": "tick"',
    b"\xff\xfe{}",
    b'\xef\xbb\xbf{"kind": "tick"}',                         # a byte-order mark
    b'{"kind": "tick", "note": "a\x01b"}',                     # a raw control character
    b'["kind", "tick"]',
    b'"tick"',
    b"null",
    b'{"kind": 3}',
    b"{}",
    b"",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
])
def test_a_line_that_is_not_a_record_is_skipped_and_counted_and_the_rest_arrives(serve_live, tmp_path, line):
    (tmp_path / RECORD_NAME).write_bytes(META + b"\n" + line + b"\n" + TICK + b"\n")
    url = serve_live(tmp_path)
    for _ in range(2):                                   # the same answer again: never a 500, never stuck
        answer = _answer(url, 0)
        assert answer["records"] == [json.loads(META), json.loads(TICK)]
        assert answer["skipped"] == {"damaged": 1, "too_long": 0}
        assert answer["offset"] == (tmp_path / RECORD_NAME).stat().st_size


def test_an_overlong_line_is_read_past_in_bounded_pieces_never_held_whole(serve_live, tmp_path):
    overlong = b'{"kind": "tick", "pad": "' + b"x" * (6 * RECORD_LINE.bytes) + b'"}'    # valid JSON, 24 MiB
    (tmp_path / RECORD_NAME).write_bytes(META + b"\n" + overlong + b"\n" + TICK + b"\n")
    url = serve_live(tmp_path)
    offset, records, too_long, answers = 0, [], 0, 0
    tracemalloc.start()
    try:
        while True:
            answer = _answer(url, offset)
            assert answer["offset"] - offset <= MAX_PIECE_BYTES
            records += answer["records"]
            too_long += answer["skipped"]["too_long"]
            answers += 1
            if answer["offset"] == offset:
                break
            offset = answer["offset"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert records == [json.loads(META), json.loads(TICK)] and too_long == 1 and answers >= 4
    # a reader holds at most RECORD_LINE bytes of a line (twice, while it joins what it read), never all 24 MiB
    assert peak < 3 * RECORD_LINE.bytes, f"{peak / 2**20:.1f} MiB at once for a 24 MiB line"


def test_an_answer_holds_at_most_its_stated_number_of_lines(serve_live, tmp_path):
    (tmp_path / RECORD_NAME).write_bytes(META + b"\n" + (TICK + b"\n") * (2 * MAX_PIECE_LINES))
    url = serve_live(tmp_path)
    first = _answer(url, 0)
    assert len(first["records"]) == MAX_PIECE_LINES
    assert first["offset"] == len(META) + 1 + (MAX_PIECE_LINES - 1) * (len(TICK) + 1)


def test_a_partial_last_line_waits_for_its_newline(serve_live, tmp_path):
    path = tmp_path / RECORD_NAME
    path.write_bytes(META + b"\n" + TICK[:10])
    url = serve_live(tmp_path)
    assert _answer(url, 0)["offset"] == len(META) + 1
    path.write_bytes(META + b"\n" + TICK + b"\n")
    assert _answer(url, len(META) + 1)["records"] == [json.loads(TICK)]


def test_an_offset_inside_a_line_reads_on_from_the_next_line(serve_live, tmp_path):
    inner = b'{"kind": "tick", "step": 1}'                # a record hidden inside another line's string
    line = b'{"kind": "note", "text": "' + inner.replace(b'"', b"'") + b'", "x": ' + inner + b"}"
    (tmp_path / RECORD_NAME).write_bytes(line + b"\n" + TICK + b"\n")
    url = serve_live(tmp_path)
    answer = _answer(url, line.index(inner))
    assert answer["records"] == [json.loads(TICK)] and answer["skipped"] == {"damaged": 0, "too_long": 0}


def test_a_record_that_shrank_is_read_again_from_the_start(serve_live, tmp_path):
    path = tmp_path / RECORD_NAME
    path.write_bytes(META + b"\n" + (TICK + b"\n") * 5)
    url = serve_live(tmp_path)
    end = _answer(url, 0)["offset"]
    path.write_bytes(META + b"\n")                        # a resumed run rewrote it
    assert _answer(url, end) | {"records": []} == {"offset": 0, "restart": True, "records": [],
                                                    "skipped": {"damaged": 0, "too_long": 0}}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX notion")
def test_a_record_that_is_a_fifo_is_refused_at_once_not_waited_on(serve_live, tmp_path):
    os.mkfifo(tmp_path / RECORD_NAME)                     # opening it for reading would wait for a writer
    url = serve_live(tmp_path)
    status, body, _ = request(url, "GET", "/api/live/record?offset=0")
    assert status == 503 and "FIFO" in body["error"] and "regular file" in body["error"]


def test_a_record_that_is_a_folder_is_refused(serve_live, tmp_path):
    (tmp_path / RECORD_NAME).mkdir()
    url = serve_live(tmp_path)
    status, body, _ = request(url, "GET", "/api/live/record?offset=0")
    assert status == 503 and "folder" in body["error"]


def test_a_missing_record_is_an_empty_one(serve_live, tmp_path):
    assert _answer(serve_live(tmp_path), 0) == {"offset": 0, "restart": False, "records": [],
                                                "skipped": {"damaged": 0, "too_long": 0}}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX notion")
def test_a_checkpoint_that_is_a_fifo_is_no_checkpoint_not_a_hang(serve_live, tmp_path):
    os.mkfifo(tmp_path / "model.npz")
    url = serve_live(tmp_path)
    status, body, _ = request(url, "POST", "/api/predict", {"pixels": [0.0] * 784})
    assert status == 503 and "no checkpoint yet" in body["error"]
