"""The row ``vidrec`` of ReDial / INSPIRED and its ablation rows: the shipped Recommender, one per
collaborative model (fitted on ``--train`` or cross-fitted on folds), all sharing the library and
the cached LLM."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from agent.settings import Settings
from evaluation.cache import CachingLLM
from evaluation.conv_collab import FoldModels, train_fold_models
from evaluation.dialogues import Dialogue
from evaluation.runner import EvalOptions, caching_llm, default_movielens, make_vidrec
from evaluation.systems import RoutedSystem, System, VidrecSystem
from retrieval.library import Library

__all__ = ["ablation_rows", "fold_models", "vidrec_system"]


def fold_models(
    options: EvalOptions,
    settings: Settings,
    ev_settings: Settings,
    dialogues: Sequence[Dialogue],
    train_dialogues: Sequence[Dialogue] | None,
    *,
    sessions: bool,
    needed: set[str],
    library: Library | None = None,
    libraries: Mapping[int, Library] | None = None,
) -> FoldModels:
    """The collaborative models of the run: fitted on ``--train`` or cross-fitted on folds;
    with the ``library``, the training dialogues' turns are embedded by its embedder as the
    models' similar requests (:mod:`agent.collab.requests`)."""
    scratch = settings.cache_dir / "eval" / "collab"  # models kept for re-runs
    return train_fold_models(
        dialogues,
        train_dialogues,
        (options.movielens or default_movielens(settings)) / "ratings.csv",
        ev_settings.agent.collab,
        scratch,
        folds=options.folds,
        sessions=sessions,
        needed=needed,
        library=library,
        libraries=libraries,
    )


def ablation_rows(
    options: EvalOptions,
    settings: Settings,
    ev_settings: Settings,
    library: Library,
    fold_models: Callable[[bool], FoldModels],
    dialogue_of: dict[str, str],
    shipped: System | None = None,
    models: FoldModels | None = None,
) -> list[System]:
    """The rows ``nocollab``, ``nosessions`` and ``nolikes`` of ``--ablations``, each the shipped
    recommender without one part. The hand-tuned blend ranks ``nocollab`` and ``nosessions`` (the
    learned stage is fitted for the row ``vidrec`` only); ``nolikes`` is the row ``vidrec``
    (``shipped``: its collaborative ``models`` and its fitted learned rankers) with the product's
    setting ``agent.opinions`` off."""
    rows: list[System] = []
    for ablation in options.ablations:
        tried = ev_settings
        if ablation == "nocollab":
            fitted = None
        elif ablation == "nosessions":
            fitted = fold_models(False)
        elif ablation == "nolikes":
            fitted = models
            tried = ev_settings.model_copy(
                update={"agent": ev_settings.agent.model_copy(update={"opinions": False})}
            )
        else:
            continue  # the learned stage's own rows (evaluation.learned_eval)
        name = f"vidrec-{ablation}"
        row = vidrec_system(options, settings, tried, library, fitted, dialogue_of, name)[0]
        if ablation == "nolikes":
            row.description += (
                "; agent.opinions off: the dialogue's likes, dislikes and seen marks are not "
                "read, every named title counts as a like"
            )
            if shipped is not None:
                _share_rankers(shipped, row)
        rows.append(row)
    return rows


def _share_rankers(source: System, target: System) -> None:
    """Plug ``source``'s learned ranker of each fold into ``target``'s recommender of that fold."""
    if isinstance(source, VidrecSystem) and isinstance(target, VidrecSystem):
        target.recommender.learned = source.recommender.learned
    elif isinstance(source, RoutedSystem) and isinstance(target, RoutedSystem):
        for key, system in target.systems.items():
            _share_rankers(source.systems[key], system)


def vidrec_system(
    options: EvalOptions,
    settings: Settings,
    ev_settings: Settings,
    library: Library,
    models: FoldModels | None,
    dialogue_of: dict[str, str],
    name: str = "vidrec",
    *,
    feedback: bool = False,
) -> tuple[VidrecSystem | RoutedSystem, CachingLLM]:
    """The shipped Recommender, one per collaborative model (all sharing the library and LLM);
    ``feedback``: the row ``vidrec-feedback``, which records each case's earlier opinions as
    the user's feedback before the turn."""
    name = "vidrec-feedback" if feedback else name
    if models is None:
        return make_vidrec(ev_settings, library, settings, feedback=feedback, name=name)
    llm = caching_llm(ev_settings, settings)
    per_model: dict[int, System] = {}
    for key, scorer in models.scorers.items():
        per_model[key], _ = make_vidrec(
            ev_settings,
            models.libraries.get(key, library),
            settings,
            collab=scorer,
            llm=llm,
            feedback=feedback,
            name=name,
        )
    first = next(iter(per_model.values()))
    how = (
        f"trained on {options.train.name}"
        if options.train
        else f"cross-fitted on {models.folds} folds of the scored dialogues"
    )
    description = (
        f"{first.description}; collaborative model (MovieLens + dialogues as "
        f"{'sessions' if models.sessions else 'history'}) {how}"
    )
    if models.libraries:
        description += (
            "; queries encoded by a query encoder trained on the same dialogues' (conversation, "
            "movie taken) pairs (--adapt-queries)"
        )
    if feedback:
        description += (
            "; before each turn the seeker's opinions (ReDial's questionnaire) of the movies "
            "named earlier are recorded as like / dislike / watched feedback"
        )
    return (
        RoutedSystem(
            name,
            description,
            per_model,
            lambda request: models.key(dialogue_of.get(request.id, "")),
        ),
        llm,
    )
