"""course_lib.shapes: Keras padding semantics, masks, last valid step, layouts, packing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib.shapes import (
    PATTERN_OUTPUTS,
    last_valid_step,
    lengths_to_mask,
    pack,
    pad_sequences,
    pattern_output,
    to_batch_major,
    to_time_major,
    unpack,
)

SEQS = [[1, 2, 3], [4, 5, 6, 7, 8], [9]]


# Worked by hand from the Keras documentation's definition of padding and truncating.
@pytest.mark.parametrize(
    ("padding", "truncating", "expected"),
    [
        ("pre", "pre", [[0, 1, 2, 3], [5, 6, 7, 8], [0, 0, 0, 9]]),
        ("post", "pre", [[1, 2, 3, 0], [5, 6, 7, 8], [9, 0, 0, 0]]),
        ("pre", "post", [[0, 1, 2, 3], [4, 5, 6, 7], [0, 0, 0, 9]]),
        ("post", "post", [[1, 2, 3, 0], [4, 5, 6, 7], [9, 0, 0, 0]]),
    ],
)
def test_pad_sequences_keras_semantics(padding: str, truncating: str, expected: list) -> None:
    out = pad_sequences(SEQS, maxlen=4, padding=padding, truncating=truncating)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, np.array(expected))


def test_pad_sequences_defaults_are_keras_defaults_and_maxlen_is_longest() -> None:
    out = pad_sequences(SEQS, value=-1)
    np.testing.assert_array_equal(out, [[-1, -1, 1, 2, 3], [4, 5, 6, 7, 8], [-1, -1, -1, -1, 9]])


def test_pad_sequences_feature_dims_dtype_and_empty_sequences() -> None:
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    b = np.full((1, 2), 7.0, dtype=np.float32)
    empty = np.zeros((0, 2), dtype=np.float32)
    out = pad_sequences([a, b, empty], padding="post", value=0.5, dtype="float64")
    assert out.shape == (3, 3, 2) and out.dtype == np.float64
    np.testing.assert_array_equal(out[0], a)
    np.testing.assert_array_equal(out[1], [[7, 7], [0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(out[2], np.full((3, 2), 0.5))


def test_pad_sequences_tensors_stay_tensors() -> None:
    seqs = [torch.tensor([1.0, 2.0]), torch.tensor([3.0])]
    out = pad_sequences(seqs, padding="post")
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[1.0, 2.0], [3.0, 0.0]]))


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"padding": "middle"}, ValueError, "padding"),
        ({"truncating": "both"}, ValueError, "truncating"),
        ({"maxlen": -1}, ValueError, "maxlen"),
    ],
)
def test_pad_sequences_bad_options(kwargs: dict, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        pad_sequences(SEQS, **kwargs)


def test_pad_sequences_mismatched_step_shapes_name_the_sequence() -> None:
    with pytest.raises(ValueError, match=r"sequences\[1\].*\(3,\).*\(2,\)"):
        pad_sequences([np.zeros((2, 2)), np.zeros((2, 3))])


def test_mask_matches_a_loop_for_both_paddings() -> None:
    lengths = np.array([3, 0, 5, 1])
    for padding in ("post", "pre"):
        mask = lengths_to_mask(lengths, 6, padding=padding)
        assert mask.dtype == np.bool_ and mask.shape == (4, 6)
        for b, n in enumerate(lengths):
            for t in range(6):
                real = t < n if padding == "post" else t >= 6 - n
                assert mask[b, t] == real
    # the mask agrees with where pad_sequences put the data
    padded = pad_sequences([np.ones(n) for n in lengths], maxlen=6, padding="pre")
    np.testing.assert_array_equal(lengths_to_mask(lengths, 6, padding="pre"), padded == 1)


def test_mask_default_length_and_torch_device() -> None:
    mask = lengths_to_mask(torch.tensor([2, 1]))
    assert isinstance(mask, torch.Tensor)
    assert mask.tolist() == [[True, True], [True, False]]


@pytest.mark.parametrize(
    ("lengths", "error", "words"),
    [
        (np.array([1.5, 2.0]), TypeError, "integers"),
        (np.array([[1, 2]]), ValueError, r"shape \(1, 2\)"),
        (np.array([7, 1]), ValueError, "at most T = 6"),
        (np.array([-1, 1]), ValueError, "at least 0"),
    ],
)
def test_mask_bad_lengths(lengths: np.ndarray, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        lengths_to_mask(lengths, 6)


def test_last_valid_step_matches_a_loop(rng: torch.Generator) -> None:
    outputs = torch.randn(4, 6, 3, generator=rng, dtype=torch.float64)
    lengths = torch.tensor([6, 1, 3, 4])
    got = last_valid_step(outputs, lengths)
    for b in range(4):
        torch.testing.assert_close(got[b], outputs[b, lengths[b] - 1], rtol=0, atol=0)
    pre = last_valid_step(outputs, lengths, padding="pre")
    torch.testing.assert_close(pre, outputs[:, -1], rtol=0, atol=0)


def test_last_valid_step_numpy_in_numpy_out() -> None:
    outputs = np.arange(2 * 3 * 1, dtype=np.float32).reshape(2, 3, 1)
    got = last_valid_step(outputs, np.array([2, 3]))
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, [[1.0], [5.0]])


@pytest.mark.parametrize(
    ("lengths", "words"),
    [([0, 2], "at least 1"), ([1, 2, 3], r"expected \(B,\) = \(2,\)"), ([1, 4], "at most T = 3")],
)
def test_last_valid_step_bad_lengths(lengths: list, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        last_valid_step(torch.zeros(2, 3, 4), lengths)


def test_last_valid_step_bad_outputs_shape() -> None:
    with pytest.raises(ValueError, match=r"outputs has shape \(2, 3\)"):
        last_valid_step(torch.zeros(2, 3), [1, 2])


def test_layout_round_trip() -> None:
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    tm = to_time_major(x)
    assert tm.shape == (3, 2, 4)
    for b in range(2):
        for t in range(3):
            np.testing.assert_array_equal(tm[t, b], x[b, t])
    np.testing.assert_array_equal(to_batch_major(tm), x)
    with pytest.raises(ValueError, match="at least 2 dims"):
        to_time_major(torch.zeros(5))


def test_time_major_matches_pytorch_batch_first_flag(rng: torch.Generator) -> None:
    rnn = torch.nn.RNN(4, 5, batch_first=False).double()
    x = torch.randn(3, 7, 4, generator=rng, dtype=torch.float64)  # (B, T, D)
    out, h_n = rnn(to_time_major(x))
    torch.testing.assert_close(to_batch_major(out)[:, -1], h_n[0])
    assert h_n.shape == (1, 3, 5)  # (num_layers * num_directions, B, H), not batch-first


def test_pack_unpack_round_trip_and_lengths_on_cpu(rng: torch.Generator) -> None:
    lengths = [2, 5, 3]
    x = torch.randn(3, 5, 2, generator=rng) * lengths_to_mask(lengths, 5)[..., None]
    packed = pack(x, torch.tensor(lengths))  # unsorted is fine by default
    padded, got_lengths = unpack(packed, total_length=5)
    torch.testing.assert_close(padded, x, rtol=0, atol=0)
    assert got_lengths.tolist() == lengths and got_lengths.device.type == "cpu"
    assert unpack(packed)[0].shape == (3, 5, 2)
    assert unpack(pack(x[:, :3], [2, 3, 3]))[0].shape == (3, 3, 2)


def test_packed_rnn_equals_running_each_sequence_alone(rng: torch.Generator) -> None:
    lstm = torch.nn.LSTM(2, 4, batch_first=True).double()
    lengths = [3, 6, 1]
    x = torch.randn(3, 6, 2, generator=rng, dtype=torch.float64)
    out_packed, (h_n, _) = lstm(pack(x, lengths))
    out, _ = unpack(out_packed, total_length=6)
    for b, n in enumerate(lengths):
        alone, (h_alone, _) = lstm(x[b : b + 1, :n])
        torch.testing.assert_close(out[b, :n], alone[0])
        torch.testing.assert_close(h_n[0, b], h_alone[0, 0])
        assert torch.all(out[b, n:] == 0)
        # the final state is the output at the last valid step
        torch.testing.assert_close(h_n[0, b], last_valid_step(out, torch.tensor(lengths))[b])


def test_pack_validates() -> None:
    x = torch.zeros(2, 3, 1)
    with pytest.raises(ValueError, match="decreasing"):
        pack(x, [1, 3], enforce_sorted=True)
    with pytest.raises(ValueError, match="at least 1"):
        pack(x, [0, 3])
    with pytest.raises(ValueError, match=r"x has shape \(2, 3\)"):
        pack(torch.zeros(2, 3), [1, 3])
    with pytest.raises(TypeError, match="PackedSequence"):
        unpack(x)
    with pytest.raises(ValueError, match="total_length is 2"):
        unpack(pack(x, [1, 3]), total_length=2)


@pytest.mark.gpu
def test_pack_on_gpu_with_cuda_lengths() -> None:
    x = torch.randn(3, 4, 2, device="cuda")
    lengths = torch.tensor([4, 2, 1], device="cuda")
    packed = pack(x, lengths)
    assert packed.data.device.type == "cuda"
    padded, _ = unpack(packed, total_length=4)
    mask = lengths_to_mask(lengths, 4)
    torch.testing.assert_close(padded, x * mask[..., None])
    expected = last_valid_step(x.cpu(), [4, 2, 1])
    torch.testing.assert_close(last_valid_step(x, lengths).cpu(), expected)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("many-to-one", "last"),
        ("Many to one", "last"),
        ("one_to_many", "all"),
        ("many-to-many-aligned", "all"),
        ("many to many unaligned", "state"),
        ("one-to-one", "last"),
    ],
)
def test_pattern_output(pattern: str, expected: str) -> None:
    assert pattern_output(pattern) == expected


def test_pattern_output_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="many-to-one"):
        pattern_output("many-to-many")
    assert set(PATTERN_OUTPUTS.values()) == {"last", "all", "state"}
