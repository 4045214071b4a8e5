"""The results: what a store's runs show once they ended. `morec compare`'s rows, verdicts and
tables (compare*, stats, audit, card, published, tradeoff), `morec report` (report*, the paper's
own numbers) and the one formatter of numbers and Markdown tables (formatting).

Importing this package imports nothing; compare and its helpers stay torch-free.
"""
