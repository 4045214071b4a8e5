"""The study: its definitions (studies, whose public path `morec_core.studies` stays), what a
caller asks of one (study_request), its preflight and cost plan, the trial machinery (tune),
Slurm, and the views of a study's trials (study_view, study_analytics, study_importance,
study_optuna).

Studies start through the door `morec_core.study_launch`. Importing this package imports nothing.
"""
