"""Reading what customers write: free Japanese text to an intent (with its month) or an FAQ entry.

A short chain of small, replaceable steps over frozen values, in the spirit of Rasa's NLU
pipeline (``../shared/STYLE.md``)::

    text --clean--> cleaned text --analyse (SudachiPy)--> Analysis (tokens, normalised forms,
         reading, concepts) --intents--> scored intents (with a month slot)
                                --faq index (BM25 + character bigrams)--> scored FAQ entries
         --decide (thresholds in ``reader.Thresholds``)--> Reading (answer / ask back / not understood)

Everything here is pure: no Flask, no SDK, no I/O but the analyser's dictionary, loaded once
per process. ``bot.flows.understand`` turns a ``Reading`` into replies; ``library`` keeps the
FAQ index in step with the database.
"""

import os

# numpy (the FAQ index's bigram sums) starts one OpenBLAS thread per core when it is imported, in
# every web and worker process: 40 ms of CPU and idle threads for linear algebra nothing here does.
# Set before ``faq`` imports numpy (this package's modules load after this file); an operator's own
# setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
