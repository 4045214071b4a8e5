"""The paper's own numbers (Yuan et al., SIGIR 2023), by question, with their table and row, for
`morec report` to print beside what a store measured. HR@10 and NDCG@10 are in %, as printed.

Table 2's image rows lost their header in the text we keep (paper.txt's extraction note): the
encoder columns of HM and Bili are ResNet50 / Swin-T (DSSM) and ResNet50 / Swin-T / Swin-B
(SASRec), as the caption and Section 4.1 say. Only MIND (text, the microlens-50k stand-in) and HM
(images, the posters' stand-in) are kept here.
"""

from __future__ import annotations

from dataclasses import dataclass


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

PAPER_FIGURES: tuple[PaperFigure, ...] = (
    PaperFigure(question="Q(i)", source="Table 2, MIND, SASRec", metric="hr@10",
                values=(("IDRec", 17.71), ("BERT-small", 18.50), ("BERT-base", 18.23),
                        ("RoBERTa-base", 18.68)), paper_says="Improv. +5.48%"),
    PaperFigure(question="Q(i)", source="Table 2, MIND, SASRec", metric="ndcg@10",
                values=(("IDRec", 9.52), ("BERT-small", 9.94), ("BERT-base", 9.73),
                        ("RoBERTa-base", 10.02)), paper_says="Improv. +5.25%"),
    PaperFigure(question="Q(i)", source="Table 2, MIND, DSSM", metric="hr@10",
                values=(("IDRec", 3.58), ("BERT-base", 2.68), ("RoBERTa-base", 3.07)),
                paper_says="MoRec below IDRec with DSSM"),
    PaperFigure(question="Q(i)", source="Table 2, HM, SASRec", metric="hr@10",
                values=(("IDRec", 6.84), ("ResNet50", 6.67), ("Swin-T", 6.97),
                        ("Swin-B", 7.24)), paper_says="Improv. +5.85%"),
    PaperFigure(question="Q(i)", source="Table 2, HM, DSSM", metric="hr@10",
                values=(("IDRec", 4.93), ("ResNet50", 1.49), ("Swin-T", 1.87)),
                paper_says="MoRec far below IDRec with DSSM"),
    PaperFigure(question="Q(i)", source="Table 3, Warm-20, MIND", metric="hr@10",
                values=(("IDRec", 20.12), ("BERT-base", 20.19)), paper_says="comparable"),
    PaperFigure(question="Q(i)", source="Table 3, Warm-20, HM", metric="hr@10",
                values=(("IDRec", 7.89), ("Swin-T", 8.05)), paper_says="comparable"),
    PaperFigure(question="Q(ii)", source="Table 4, MIND, BERT-base (full / 50K users)",
                metric="hr@10", values=(("TFS", 17.78), ("PE", 18.23), ("TFS 50K", 15.04),
                                        ("PE 50K", 14.35)),
                paper_says="+2.53% full; -4.59% on MIND-50K"),
    PaperFigure(question="Q(ii)", source="Table 4, HM, ResNet50 (full / 50K users)",
                metric="hr@10", values=(("TFS", 5.82), ("PE", 6.67), ("TFS 50K", 2.74),
                                        ("PE 50K", 3.26)),
                paper_says="+14.60% full; +18.98% on HM-50K"),
    PaperFigure(question="Q(iii)", source="Table 5, MIND, BERT-base", metric="hr@10",
                values=(("IDRec", 17.71), ("TS", 13.93), ("TS-DNN 2", 15.20),
                        ("TS-DNN 8 (best)", 16.66), ("E2E", 18.23)),
                paper_says="TS 76% of E2E; the best TS-DNN 91%"),
    PaperFigure(question="Q(iii)", source="Table 5, HM, ResNet50", metric="hr@10",
                values=(("IDRec", 6.84), ("TS", 4.03), ("TS-DNN 2", 4.64),
                        ("TS-DNN 6 (best)", 5.40), ("E2E", 6.67)),
                paper_says="TS 60% of E2E"),
    PaperFigure(question="Q(iv)", source="Table 9, MIND, BERT-base, cold items",
                metric="cold hr@10", values=(("IDRec", 0.0036), ("MoRec", 3.0637))),
    PaperFigure(question="Q(iv)", source="Table 9, MIND, BERT-base, new items",
                metric="new hr@10", values=(("IDRec", 0.0125), ("MoRec", 0.5899))),
    PaperFigure(question="Q(iv)", source="Table 9, HM, Swin-B, cold items",
                metric="cold hr@10", values=(("IDRec", 0.3744), ("MoRec", 1.0965))),
    PaperFigure(question="Q(iv)", source="Table 7, MIND, BERT-base, ID+TS w/o MLP",
                metric="hr@10", values=(("IDRec", 17.71), ("TS", 13.93), ("ID+TS add", 16.10),
                                        ("ID+TS concat", 17.20)),
                paper_says="-0.28% against the best pure arm (with MLPs)"),
    PaperFigure(question="Q(iv)", source="Table 7, MIND, BERT-base, ID+E2E", metric="hr@10",
                values=(("E2E", 18.23), ("ID+E2E add", 16.25), ("ID+E2E concat", 17.12)),
                paper_says="-6.09%"),
)

PAPER_COST: tuple[tuple[str, str, str, str, str], ...] = (
    # (Table 6 row, #Param, Time/E, memory, GPUs)
    ("MIND, IDRec", "47M", "7 min", "3G", "V100-32G x1"),
    ("MIND, BERT-base E2E", "116M", "102 min", "52G", "V100-32G x2"),
    ("HM, IDRec", "114M", "1 min", "5G", "V100-32G x1"),
    ("HM, Swin-B E2E", "94M", "102 min", "308G", "A100-40G x8"),
)


def figures_of(question: str) -> list[PaperFigure]:
    return [figure for figure in PAPER_FIGURES if figure.question == question]
