"""The one batching helper: a batch is formed when the model is free, from what queued
meanwhile, within the limits user_config gives. (In a real Serve replica:
tests/e2e/test_batching.py.)"""

from __future__ import annotations

import asyncio

import pytest

from deployments.common.batching import Batcher, BatchSettings


class Model:
    """Records each batch; holds every batch until `release` is set, when asked to."""

    def __init__(self, hold: bool = False):
        self.batches: list[list] = []
        self.release = asyncio.Event()
        self.running = 0
        self.most_at_once = 0
        if not hold:
            self.release.set()

    async def __call__(self, items: list) -> list:
        self.batches.append(list(items))
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await self.release.wait()
        self.running -= 1
        if "bad" in items:
            raise RuntimeError("the model failed")
        return [f"out-{item}" for item in items]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_items_that_queue_while_the_model_runs_go_in_together():
    model = Model(hold=True)
    batcher = Batcher("Test", model, BatchSettings(max_batch_size=3))
    calls = [asyncio.ensure_future(batcher(name)) for name in "abcde"]
    await settle()
    assert model.batches == [["a"]]  # the model was free: "a" went alone, at once
    model.release.set()
    assert await asyncio.gather(*calls) == [f"out-{name}" for name in "abcde"]
    assert model.batches == [["a"], ["b", "c", "d"], ["e"]]


async def test_a_size_function_bounds_a_batch_and_keeps_the_order():
    model = Model(hold=True)
    batcher = Batcher("Test", model, BatchSettings(max_batch_size=10), size_fn=sum)
    calls = [asyncio.ensure_future(batcher(n)) for n in (1, 4, 5, 2, 9, 1)]
    await settle()
    model.release.set()
    await asyncio.gather(*calls)
    assert model.batches == [[1], [4, 5], [2], [9, 1]]
    with pytest.raises(ValueError, match="exceeds max_batch_size"):
        await batcher(11)


async def test_a_failed_batch_fails_only_its_own_items():
    model = Model(hold=True)
    batcher = Batcher("Test", model, BatchSettings(max_batch_size=2))
    calls = [asyncio.ensure_future(batcher(name)) for name in ("a", "b", "bad", "c")]
    await settle()
    model.release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert results[0] == "out-a" and results[3] == "out-c"
    assert all(isinstance(r, RuntimeError) for r in results[1:3])  # "b" shared the batch


async def test_callers_that_give_up_leave_the_queue():
    model = Model(hold=True)
    batcher = Batcher("Test", model, BatchSettings(max_batch_size=4))
    first, gone, kept, also_gone = (asyncio.ensure_future(batcher(name)) for name in "abcd")
    await settle()
    gone.cancel()
    also_gone.cancel()
    await settle()
    model.release.set()
    assert await asyncio.gather(first, kept) == ["out-a", "out-c"]
    assert model.batches == [["a"], ["c"]]


async def test_a_wait_holds_a_batch_that_is_not_full():
    model = Model()
    batcher = Batcher("Test", model, BatchSettings(4, batch_wait_timeout_s=0.2))
    first = asyncio.ensure_future(batcher("a"))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(batcher("b"))
    assert await asyncio.gather(first, second) == ["out-a", "out-b"]
    assert model.batches == [["a", "b"]]
    full = [asyncio.ensure_future(batcher(name)) for name in "cdef"]
    await asyncio.wait_for(asyncio.gather(*full), 0.1)  # a full batch does not wait


async def test_concurrent_batches_run_side_by_side_up_to_the_limit():
    model = Model(hold=True)
    batcher = Batcher("Test", model, BatchSettings(1, max_concurrent_batches=2))
    calls = [asyncio.ensure_future(batcher(name)) for name in "abc"]
    await settle()
    assert model.batches == [["a"], ["b"]]
    model.release.set()
    await asyncio.gather(*calls)
    assert model.most_at_once == 2


async def test_new_limits_apply_to_the_next_batch():
    model = Model(hold=True)
    batcher = Batcher("Test", model, BatchSettings(1))
    calls = [asyncio.ensure_future(batcher(name)) for name in "abc"]
    await settle()
    batcher.configure(BatchSettings.parse({"batching": {"max_batch_size": 2}}, BatchSettings()))
    model.release.set()
    await asyncio.gather(*calls)
    assert model.batches == [["a"], ["b", "c"]]


def test_limits_come_from_user_config_or_the_deployments_default():
    default = BatchSettings(max_batch_size=4)
    assert BatchSettings.parse(None, default) is default
    given = BatchSettings.parse({"batching": {"max_batch_size": 1}}, default)
    assert given == BatchSettings(1, 0.0, 1)
