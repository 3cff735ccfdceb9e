"""Training: the loop, the strategy that owns backward and step, callbacks, checkpoints, validation.

>>> from synthgan.training import Callback, Checkpoint, EarlyStopping
>>> class PrintLoss(Callback):
...     def on_epoch_end(self, state):
...         state.logs["ratio"] = state.logs["generator_loss"] / (abs(state.logs["critic_loss"]) + 1e-9)
"""

from synthgan.training.batches import BatchSampler
from synthgan.training.callbacks import (Callback, EarlyStopping, History, LearningRateSchedule, ProgressBar,
                                         TimeBudget, WeightAverage)
from synthgan.training.checkpoint import Checkpoint, list_checkpoints, read_checkpoint
from synthgan.training.loop import Trainer, TrainingPlan, TrainState
from synthgan.training.strategy import Strategy
from synthgan.training.validation import ValidationScore

__all__ = ["BatchSampler", "Callback", "Checkpoint", "EarlyStopping", "History", "LearningRateSchedule",
           "ProgressBar", "Strategy", "TimeBudget", "TrainState", "Trainer", "TrainingPlan", "ValidationScore",
           "WeightAverage", "list_checkpoints", "read_checkpoint"]
