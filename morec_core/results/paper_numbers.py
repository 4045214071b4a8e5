"""The paper's own numbers (Yuan et al., SIGIR 2023), by question, with their table and row, for
`morec report` to print beside what a store measured. HR@10 and NDCG@10 are in %, as printed.

The numbers themselves are a published-rows file, `published_rows/yuan_sigir2023.toml` (see
morec_core/results/published.py; its comments say which rows are kept and why), read here into figures:
one per table row and metric. The questions, the paper's answers and Table 6 stay here.
"""

from __future__ import annotations

from dataclasses import dataclass

from morec_core.results.published import PACKAGED, read_published


@dataclass(frozen=True, kw_only=True)
class PaperFigure:
    question: str
    """Q(i) .. Q(iv), the paper's numbering."""
    source: str
    """Table and row, e.g. "Table 2, MIND, SASRec"."""
    metric: str
    values: tuple[tuple[str, float], ...]
    """(column, value) pairs in the table's order."""
    paper_says: str = ""
    """The paper's reading of the row (its Improv. or its sentence)."""


QUESTIONS: dict[str, str] = {
    "Q(i)": "Equipped with strong modality encoders, can MoRec match or beat IDRec, in the "
            "regular setting (SASRec and DSSM) and in warm-start settings?",
    "Q(ii)": "Do better or larger pretrained encoders make better recommenders, and does "
             "pretraining help at all (against training the encoder from scratch)?",
    "Q(iii)": "Are two-stage features (TS, TS-DNN) as good as end-to-end training?",
    "Q(iv)": "Key challenges: cold and new items, ID + modality fusion, and the training cost.",
}
"""The paper's four questions (Section 1) in its numbering: Q(iii) is the two-stage one."""

PAPER_ANSWERS: dict[str, str] = {
    "Q(i)": "With SASRec, MoRec is comparable to or better than IDRec on all three datasets "
            "(+5.48% HR@10 on MIND with RoBERTa); with DSSM it is much worse; in warm-20/50/200 "
            "the two stay comparable, IDRec gaining as items get warmer (Tables 2, 3).",
    "Q(ii)": "Better NLP/CV encoders give better MoRec (RoBERTa > BERT > OPT > TextCNN > GloVe; "
             "Swin-T > ResNet50; Figure 4), and pretrained encoders beat the same network "
             "trained from scratch, except BERT-base on MIND-50K (Table 4).",
    "Q(iii)": "Two-stage MoRec is much worse than end-to-end MoRec and IDRec; dense layers on "
              "the frozen features (TS-DNN) close part of the gap (Table 5).",
    "Q(iv)": "MoRec beats IDRec by far on cold and new items (Table 9); adding ID features to "
             "MoRec does not help (Table 7); end-to-end MoRec costs 100-1000x an IDRec epoch "
             "(Table 6).",
}

PUBLISHED_FILE = PACKAGED["paper"]
"""The paper's numbers as published rows (`morec compare --published paper` reads the same)."""


def _figures() -> tuple[PaperFigure, ...]:
    """One figure per run of consecutive rows of one question, source and metric, in the file's
    order; its columns in the file's order too."""
    figures: list[PaperFigure] = []
    for row in read_published(PUBLISHED_FILE):
        source = row.source.removeprefix(SOURCE_PREFIX)
        last = figures[-1] if figures else None
        column = (row.column or row.arm, row.value)
        if last is not None and (last.question, last.source, last.metric) == (
                row.question, source, row.metric):
            figures[-1] = PaperFigure(question=last.question, source=last.source,
                                      metric=last.metric, values=(*last.values, column),
                                      paper_says=last.paper_says)
        else:
            figures.append(PaperFigure(question=row.question, source=source, metric=row.metric,
                                       values=(column,), paper_says=row.note))
    return tuple(figures)


SOURCE_PREFIX = "Yuan et al., SIGIR 2023, "
PAPER_FIGURES: tuple[PaperFigure, ...] = _figures()

PAPER_COST: tuple[tuple[str, str, str, str, str], ...] = (
    # (Table 6 row, #Param, Time/E, memory, GPUs)
    ("MIND, IDRec", "47M", "7 min", "3G", "V100-32G x1"),
    ("MIND, BERT-base E2E", "116M", "102 min", "52G", "V100-32G x2"),
    ("HM, IDRec", "114M", "1 min", "5G", "V100-32G x1"),
    ("HM, Swin-B E2E", "94M", "102 min", "308G", "A100-40G x8"),
)


def figures_of(question: str) -> list[PaperFigure]:
    return [figure for figure in PAPER_FIGURES if figure.question == question]
