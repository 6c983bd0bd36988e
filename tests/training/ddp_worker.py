"""Run under torchrun by tests/training/test_distributed.py: two CPU ranks train one model.

``ddp_worker.py stop-on-rank-1``: a callback on rank 1 alone asks to stop at its third batch.
"""

import os
import sys
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

import nnguru
from nnguru import Sequential
from nnguru.callbacks import Callback
from nnguru.layers import Dense


class StopOnRankOne(Callback):
    def on_train_batch_end(self, batch, logs=None):
        if dist.get_rank() == 1 and batch == 2:
            self.model.stop_training = True


dist.init_process_group("gloo", timeout=timedelta(seconds=60))  # a rank left waiting fails, not hangs
rank = dist.get_rank()
callbacks = [StopOnRankOne()] if sys.argv[1:] == ["stop-on-rank-1"] else []
nnguru.set_seed(0)  # same initial weights on every rank
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 4)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
model = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=callbacks)
flat = torch.cat([p.detach().flatten() for p in model.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
if rank == 0:
    same = all(torch.equal(gathered[0], g) for g in gathered)
    print(f"RESULT same_weights={same} steps={history.params['steps']} epochs={len(history.history['loss'])} "
          f"acc={history.history['accuracy'][-1]:.3f}")
dist.barrier()
dist.destroy_process_group()
# Leave without interpreter finalization: a gloo worker thread can still be dropping its last
# finished work (whose tensors need the GIL to release) when Python finalizes, and a thread that
# asks for the GIL then is ended by pthread_exit -> std::terminate -> SIGABRT ("terminate called
# without an active exception"). Seen in CI about once in 20 runs on a loaded 2-core machine; the
# core's backtrace: ProcessGroupGloo::runLoop -> ~AsyncAllgatherWork -> decref_pyobject -> take_gil.
sys.stdout.flush()
os._exit(0)
