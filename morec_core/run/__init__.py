"""The run: one training run from its spec to its events (build, train, evaluate, the runner and
its sinks' stop rules, checkpoints, devices and DDP, preemption) and the vocabulary it speaks
(events, statuses, per-user results, costs).

Runs start through the door `morec_core.launch`. Importing this package imports nothing: the
torch-free modules here (events, run_status, user_results) stay torch-free.
"""
