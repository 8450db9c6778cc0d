"""course_lib.grading.wire and .frames: what crosses between grader and notebook, and how."""

from __future__ import annotations

import base64
import json
import random
import socket
import time
from collections import namedtuple

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.grading.frames import MAX_FRAME_BYTES, Channel, WireError
from course_lib.grading.wire import FunctionRef, InputChanged, decode, encode, write_back
from course_lib.models import Smooth, TinyLM, TinyRNN

Pair = namedtuple("Pair", "h c")


def roundtrip(value):
    return decode(json.loads(json.dumps(encode(value))))


def test_data_crosses_with_its_types() -> None:
    value = {
        "none": None,
        "flag": True,
        3: -7,
        "big": 2**70,
        "x": 1.5,
        "nan": float("nan"),
        "inf": -float("inf"),
        "z": 1 - 2j,
        "s": "héllo",
        "b": b"\x00\xff",
        "list": [1, (2, 3)],
        "pair": Pair(1, 2),
        (1, "k"): "tuple key",
    }
    back = roundtrip(value)
    assert back["big"] == 2**70 and back["z"] == 1 - 2j and back["b"] == b"\x00\xff"
    assert back["nan"] != back["nan"] and back["inf"] == -float("inf")
    assert back["list"] == [1, (2, 3)] and isinstance(back["list"][1], tuple)
    assert back["pair"] == (1, 2) and back["pair"]._fields == ("h", "c")
    assert type(back["pair"]).__name__ == "Pair" and back[(1, "k")] == "tuple key"
    assert type(back[3]) is int and type(back["flag"]) is bool


def test_arrays_cross_contiguous_whatever_their_strides() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)[:, ::-1, ::2]  # negative and skipping strides
    back = roundtrip(a)
    assert back.flags.c_contiguous and back.dtype == a.dtype and np.array_equal(back, a)
    big_endian = np.arange(5, dtype=">i4")
    assert np.array_equal(roundtrip(big_endian), big_endian)
    scalar = roundtrip(np.float32(2.5))
    assert type(scalar) is np.float32 and scalar == 2.5
    t = torch.arange(12.0, dtype=torch.float64).reshape(3, 4).T.requires_grad_()
    back = roundtrip(t)
    assert back.dtype == torch.float64 and back.requires_grad and torch.equal(back, t.detach())
    for dtype in (torch.bfloat16, torch.bool, torch.int64, torch.complex64, torch.uint8):
        x = torch.ones(2, 3, dtype=dtype)
        assert torch.equal(roundtrip(x), x)
    with pytest.raises(WireError, match="numbers only"):
        encode(np.array(["a"], dtype=object))


def test_modules_cross_as_their_arguments_and_weights() -> None:
    gen = torch.Generator().manual_seed(0)
    for module in (
        nn.LSTM(3, 4, batch_first=True, dtype=torch.float64, bidirectional=True),
        nn.GRU(2, 5),
        nn.RNN(2, 3, nonlinearity="relu"),
        nn.Linear(3, 2, bias=False),
        nn.Embedding(7, 2, padding_idx=0),
        TinyRNN(generator=gen),
        TinyLM(generator=gen),
        Smooth((2, 3), generator=gen),
    ):
        back = roundtrip(module)
        assert type(back) is type(module)
        mine, theirs = module.state_dict(), back.state_dict()
        assert mine.keys() == theirs.keys()
        assert all(
            torch.equal(mine[k], theirs[k]) and mine[k].dtype == theirs[k].dtype for k in mine
        )
    lstm = nn.LSTM(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    assert torch.equal(roundtrip(lstm)(x)[0], lstm(x)[0])  # flat weights follow the new ones
    lstm.weight_ih_l0.grad = torch.ones_like(lstm.weight_ih_l0)
    lstm.eval()
    back = roundtrip(lstm)
    assert torch.equal(back.weight_ih_l0.grad, lstm.weight_ih_l0.grad) and not back.training


def test_an_optimizer_crosses_after_its_module() -> None:
    model = TinyRNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.25, momentum=0.5)
    back_model, back_opt = roundtrip([model, optimizer])
    assert back_opt.param_groups[0]["lr"] == 0.25 and back_opt.param_groups[0]["momentum"] == 0.5
    assert back_opt.param_groups[0]["params"] == list(back_model.parameters())
    with pytest.raises(WireError, match="only after the one module"):
        encode([optimizer, model])


def test_what_cannot_cross_is_named() -> None:
    for value, word in (
        (lambda x: x, "function"),
        ({1, 2}, "set"),
        (nn.Conv1d(1, 1, 1), "Conv1d"),
        (iter([]), "list_iterator"),
    ):
        with pytest.raises(WireError, match=word):
            encode(value)
    assert decode(encode(FunctionRef("f")), resolve_function=lambda name: name * 2) == "ff"
    with pytest.raises(WireError, match="function reference"):
        decode(encode(FunctionRef("f")))


def _tensor_data(**changes):
    data = encode(torch.zeros(2, 3))
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "bad",
    [
        {"$": "nonsense"},
        {"$": "tuple"},
        {"$": "dict", "items": [[1]]},
        {"$": "dict", "items": [[[1], 2]]},  # an unhashable key
        {"$": "namedtuple", "name": "class", "fields": ["a"], "items": [1]},
        {"$": "namedtuple", "name": "P", "fields": ["a b"], "items": [1]},
        {"$": "float", "text": "1e999999"},
        {"$": "bigint", "text": "9" * 500},
        {"$": "complex", "re": "x", "im": 0},
        {"$": "bytes", "data": "***"},
        _tensor_data(dtype="float128"),
        _tensor_data(shape=[2, -3]),
        _tensor_data(shape=[2, 4]),
        _tensor_data(shape=[2**20, 2**20]),
        _tensor_data(shape=[1] * 9),
        _tensor_data(data=None),
        _tensor_data(device="tpu:0"),
        _tensor_data(dtype="int64", requires_grad=True),
        {"$": "ndarray", "dtype": "O", "shape": [1], "data": ""},
        {"$": "ndarray", "dtype": ">f8", "shape": [1], "data": base64.b64encode(b"x" * 8).decode()},
        {"$": "module", "type": "os.system", "init": {}, "state": {}},
        {
            "$": "module",
            "type": "torch.nn.Linear",
            "init": {"in_features": -1, "out_features": 2, "bias": True},
            "state": {},
        },
        {
            "$": "module",
            "type": "torch.nn.Linear",
            "init": {"in_features": 2, "out_features": 2, "bias": True},
            "state": {"x": 1},
        },
        {"$": "sgd", "module": 0, "options": {}},
        # a module that would take a terabyte if its arguments were believed before its weights
        {
            "$": "module",
            "type": "torch.nn.Linear",
            "init": {"in_features": 10**6, "out_features": 10**6, "bias": False},
            "state": {},
        },
    ],
    ids=lambda d: str(d.get("$")) + str(sorted(d))[:40],
)
def test_decoding_rejects_what_it_cannot_build(bad) -> None:
    with pytest.raises(WireError):
        decode(bad)


def test_decoding_random_garbage_raises_only_wire_errors() -> None:
    """Whatever JSON a student's process sends, decoding either builds data or says why not."""
    rng = random.Random(7)
    atoms = [None, 1, -1.5, "x", True, [], {}, "$", "tensor", [1, 2], {"$": "tuple"}]
    keys = ["$", "items", "dtype", "shape", "data", "name", "fields", "type", "init", "state"]

    def garbage(depth=0):
        if depth > 3 or rng.random() < 0.3:
            return rng.choice(atoms)
        if rng.random() < 0.5:
            return [garbage(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): garbage(depth + 1) for _ in range(rng.randint(0, 4))}

    for _ in range(3000):
        value = garbage()
        try:
            decode(value)
        except WireError:
            pass


def test_deep_nesting_is_refused_both_ways() -> None:
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(WireError, match="nested"):
        encode(deep)
    with pytest.raises(WireError):
        decode(json.loads(json.dumps(deep)))


def test_write_back_copies_what_a_call_did_to_its_arguments() -> None:
    x, grads, model = np.zeros(3), [torch.zeros(2), 5], TinyRNN()
    args = [x, grads, {"a": 1}, model]
    after = roundtrip(args)
    after[0] += 1
    after[1][0] += 2
    after[1][1] = 6
    after[2]["b"] = 2
    with torch.no_grad():
        after[3].head.bias.fill_(3.0)
    write_back(args, after)
    assert x.tolist() == [1, 1, 1] and args[0] is x  # the very same array, changed in place
    assert grads[0].tolist() == [2, 2] and grads[1] == 6
    assert args[2] == {"a": 1, "b": 2} and model.head.bias.item() == 3.0
    reshaped = roundtrip([np.zeros(3)])
    reshaped[0] = np.zeros(4)
    with pytest.raises(InputChanged, match="shape"):
        write_back([np.zeros(3)], reshaped)


def test_frames_have_a_size_limit_and_a_deadline() -> None:
    a, b = socket.socketpair()
    sender, receiver = Channel(a), Channel(b, max_bytes=1000)
    sender.send({"t": "x", "v": [1, 2]})
    assert receiver.recv(time.monotonic() + 1) == {"t": "x", "v": [1, 2]}
    with pytest.raises(TimeoutError):
        receiver.recv(time.monotonic() + 0.05)
    a.sendall((10).to_bytes(4, "big") + b'{"t": ')  # half a frame, then the rest later
    with pytest.raises(TimeoutError):
        receiver.recv(time.monotonic() + 0.05)
    a.sendall(b'"y"} ')
    assert receiver.recv(time.monotonic() + 1) == {"t": "y"}
    a.sendall((5000).to_bytes(4, "big"))
    with pytest.raises(WireError, match="over the limit"):
        receiver.recv(time.monotonic() + 1)
    for junk in (b"[1, 2]", b"not json", b'{"n": ' + b"1" * 900 + b"}"):
        x, y = socket.socketpair()
        x.sendall(len(junk).to_bytes(4, "big") + junk)
        with pytest.raises(WireError):
            Channel(y).recv(time.monotonic() + 1)
    a.close()
    assert Channel(b).recv(time.monotonic() + 1) is None
    assert MAX_FRAME_BYTES >= 2**20
