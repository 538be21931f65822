"""The one batching helper: limits read from user_config, and a new queue only when they
differ. (Items sharing batches needs a Serve replica: tests/e2e/test_batching.py.)"""

from __future__ import annotations

from deployments.common.batching import Batcher, BatchSettings


def test_new_limits_make_a_new_queue_only_when_they_differ():
    async def same(items):
        return items

    batcher = Batcher("Test", same, BatchSettings(2))
    queue = batcher.queue
    batcher.configure(BatchSettings.parse({"batching": {"max_batch_size": 2}}, BatchSettings()))
    assert batcher.queue is queue
    batcher.configure(BatchSettings.parse({}, BatchSettings(8)))
    assert batcher.queue is not queue and batcher.settings.max_batch_size == 8


def test_limits_come_from_user_config_or_the_deployments_default():
    default = BatchSettings(max_batch_size=4)
    assert BatchSettings.parse(None, default) is default
    given = BatchSettings.parse({"batching": {"max_batch_size": 1}}, default)
    assert given == BatchSettings(1, 0.0, 1)
