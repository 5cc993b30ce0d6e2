"""Batch scoring reuses freed memory instead of page-faulting fresh mmaps (tryon.allocator)."""

from __future__ import annotations

import resource

import pytest
import torch

from tryon.allocator import keep_freed_memory

PAGES_PER_TENSOR = 2**26 // 4096  # a 64 MB float32 tensor spans 16384 pages


def _faults_of_ten_allocations() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.empty(2**24).fill_(1.0)  # 64 MB, freed at once: what SSIM's and LPIPS's batches do all the time
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_freed_blocks_are_reused_after_keep_freed_memory():
    if not keep_freed_memory():
        pytest.skip("not glibc: the C library has no mallopt")
    _faults_of_ten_allocations()  # the first one grows the heap once
    assert _faults_of_ten_allocations() < PAGES_PER_TENSOR  # with plain mmap/munmap: ~10 x 16384 faults
