"""LightningModules of the training stages (spotting; the pretraining tasks build on the same
base, :class:`comedian.tasks.base.TrainTask`)."""
