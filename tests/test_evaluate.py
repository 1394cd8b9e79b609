"""The evaluation protocols' arithmetic, checked on small matrices worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from model import evaluate

# Rows are texts, columns motions; the paired motion of text i is motion i.
TOY = np.array(
    [
        [0.9, 0.1, 0.5, 0.2],  # pair ranked first
        [0.8, 0.3, 0.7, 0.1],  # two motions above the pair: rank 2
        [0.2, 0.6, 0.4, 0.6],  # two above: rank 2
        [0.5, 0.5, 0.5, 0.5],  # tied with three others: rank 0 + 3/2
    ]
)


def test_protocol_all_on_the_toy_matrix() -> None:
    t2m, m2t = evaluate.protocol_all(TOY)
    # text->motion ranks: 0, 2, 2, 1.5
    assert t2m == evaluate.RetrievalMetrics(r1=25.0, r2=50.0, r3=100.0, r5=100.0, r10=100.0, median_rank=2.75, queries=4)
    # motion->text ranks (columns): 0, 2, 3, 1
    assert m2t == evaluate.RetrievalMetrics(r1=25.0, r2=50.0, r3=75.0, r5=100.0, r10=100.0, median_rank=2.5, queries=4)


def test_protocol_threshold_counts_near_paraphrases() -> None:
    text_sim = np.eye(4)
    text_sim[1, 2] = text_sim[2, 1] = 0.95  # scaled (0.95 + 1) / 2 = 0.975 > 0.95
    t2m, _ = evaluate.protocol_threshold(TOY, text_sim)
    # text 1 may now take motion 2 (0.7, one above it: rank 1); text 2 motion 1 (0.6, tied once: 0.5)
    assert (t2m.r1, t2m.r2, t2m.r3) == (50.0, 100.0, 100.0)
    assert t2m.median_rank == pytest.approx(1.0 + np.median([0, 1, 0.5, 1.5]))


def test_threshold_below_the_bar_changes_nothing() -> None:
    text_sim = np.eye(4)
    text_sim[1, 2] = text_sim[2, 1] = 0.85  # scaled 0.925
    assert evaluate.protocol_threshold(TOY, text_sim) == evaluate.protocol_all(TOY)


def test_label_aware_correctness_on_a_rectangular_gallery() -> None:
    queries = ["walk", "wave-left-hand"]
    gallery = ["run", "walk", "wave-right-hand", "wave-left-hand", "walk"]
    sim = np.array([[0.9, 0.8, 0.1, 0.1, 0.2], [0.1, 0.1, 0.9, 0.7, 0.1]])
    correct = evaluate.label_correctness(queries, gallery)
    assert correct.tolist() == [[False, True, False, False, True], [False, False, False, True, False]]
    metrics = evaluate.retrieval_metrics(sim, correct)
    assert (metrics.r1, metrics.r2) == (0.0, 100.0)
    fraction, sided = evaluate.laterality_confusion(sim, queries, gallery)
    assert (fraction, sided) == (1.0, 1)


def test_small_batches_average_whole_batches_only() -> None:
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(70, 70)) + 3 * np.eye(70)
    t2m, m2t = evaluate.protocol_small_batches(sim, batch_size=32, seed=7)
    assert t2m.queries == m2t.queries == 64  # two batches of 32; the last 6 pairs are dropped
    order = np.random.default_rng(7).permutation(70)
    per_batch = [evaluate.protocol_all(sim[np.ix_(b, b)])[0].r1 for b in (order[:32], order[32:64])]
    assert t2m.r1 == pytest.approx(np.mean(per_batch))


def test_perfect_similarity_scores_perfectly_under_every_protocol() -> None:
    sim = np.eye(40) + 0.01
    emb = np.random.default_rng(1).normal(size=(40, 8))
    for t2m, m2t in (
        evaluate.protocol_all(sim), evaluate.protocol_small_batches(sim), evaluate.protocol_dissimilar(sim, emb, size=10)
    ):
        assert t2m.r1 == m2t.r1 == 100.0
        assert t2m.median_rank == m2t.median_rank == 1.0


def test_select_dissimilar_takes_one_caption_from_each_cluster() -> None:
    centres = np.eye(3)
    rng = np.random.default_rng(2)
    emb = np.repeat(centres, 5, axis=0) + 0.01 * rng.normal(size=(15, 3))
    chosen = evaluate.select_dissimilar(emb, size=3)
    assert sorted(chosen // 5) == [0, 1, 2]
    assert evaluate.select_dissimilar(emb, size=15).tolist() == list(range(15))


def test_swap_left_right_keeps_case_and_whole_words() -> None:
    assert evaluate.swap_left_right("Wave the left hand, then the Right") == "Wave the right hand, then the Left"
    assert evaluate.swap_left_right("raise-up-left-hand") == "raise-up-right-hand"
    assert evaluate.swap_left_right("leftover wrights") == "leftover wrights"


def test_every_query_needs_a_correct_item() -> None:
    with pytest.raises(ValueError):
        evaluate.retrieval_metrics(TOY, np.zeros_like(TOY, dtype=bool))


def test_duplicate_correct_items_do_not_count_as_ties() -> None:
    """Several motions of the query's label with the same score: only the wrong ones tie with it."""
    sim = np.array([[0.7, 0.7, 0.7, 0.7, 0.2]])
    two_wrong_ties = evaluate.retrieval_metrics(sim, np.array([[True, True, False, False, False]]))
    assert (two_wrong_ties.r1, two_wrong_ties.r2) == (0.0, 100.0)  # rank 0 + 2/2
    no_wrong_ties = evaluate.retrieval_metrics(sim, np.array([[True, True, True, True, False]]))
    assert no_wrong_ties.r1 == 100.0


def test_protocol_note_only_where_a_subset_is_the_whole_set() -> None:
    from model.validation import protocol_note

    assert protocol_note("c", 100) is not None and protocol_note("c", 101) is None
    assert protocol_note("d", 32) is not None and protocol_note("d", 33) is None
    assert protocol_note("a", 4) is None and protocol_note("b", 4) is None
    # The note is true: at 33 pairs (d) is one batch of 32, not the whole set.
    sim = np.random.default_rng(3).normal(size=(33, 33))
    assert evaluate.protocol_small_batches(sim) != evaluate.protocol_all(sim)
    assert evaluate.protocol_small_batches(sim[:32, :32]) == evaluate.protocol_all(sim[:32, :32])
