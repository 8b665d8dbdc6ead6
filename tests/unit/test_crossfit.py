from __future__ import annotations

from evaluation.crossfit import cross_fitted_lists


def test_each_fold_takes_the_value_that_won_on_the_other_folds() -> None:
    relevant = [{"a"}, {"a"}, {"b"}, {"b"}]
    folds = [0, 0, 1, 1]
    lists = {
        0.1: [["a"], ["a"], ["x"], ["x"]],  # right on fold 0 only
        1.0: [["x"], ["x"], ["b"], ["b"]],  # right on fold 1 only
    }
    ranked, chosen = cross_fitted_lists(lists, relevant, folds, k=1)
    # fold 0 is answered by the value that won on fold 1, and the other way round: no case
    # chooses its own value, so this adversarial split scores nothing
    assert chosen == {0: 1.0, 1: 0.1}
    assert ranked == [["x"], ["x"], ["x"], ["x"]]


def test_ties_go_to_the_smaller_value() -> None:
    lists = {0.5: [["a"], ["a"]], 0.2: [["a"], ["a"]]}
    _, chosen = cross_fitted_lists(lists, [{"a"}, {"a"}], [0, 1])
    assert chosen == {0: 0.2, 1: 0.2}
