"""The kit comparison rules every backend's golden check relies on."""

import torch

from tryon.golden import compare


def test_within_atol_passes_and_beyond_fails():
    e = torch.zeros(2, 3)
    assert compare(e + 1e-6, e, atol=1e-5)[0]
    ok, err, _ = compare(e + 1e-3, e, atol=1e-5)
    assert not ok and abs(err - 1e-3) < 1e-9


def test_shape_mismatch_fails():
    assert not compare(torch.zeros(2), torch.zeros(3), atol=1)[0]


def test_allow_diff_at_masks_listed_pixels_only():
    e = torch.zeros(1, 4, 4)
    a = e.clone()
    a[0, 1, 2] = 5
    assert compare(a, e, atol=0, allow_diff_at=torch.tensor([[1, 2]]))[0]
    a[0, 3, 3] = 5
    assert not compare(a, e, atol=0, allow_diff_at=torch.tensor([[1, 2]]))[0]


def test_max_fraction_off_counts_pixels():
    e = torch.zeros(10, 10, 3, dtype=torch.uint8)
    a = e.clone()
    a[0, 0, :] = 1  # one pixel of 100 off by one LSB
    assert compare(a, e, atol=1, max_fraction_off=0.01, off_unit="pixel")[0]
    a[0, 1, 0] = 1
    assert not compare(a, e, atol=1, max_fraction_off=0.01, off_unit="pixel")[0]


def test_non_tensor_values_must_be_equal():
    assert compare(["a b", "c"], ["a b", "c"], atol=0)[0]
    assert not compare([1, 2], [1, 3], atol=0)[0]
    assert compare(torch.tensor([1, 2]), [1, 2], atol=0)[0]
