"""The learned ranking stage: features of every (conversation, candidate), a LightGBM
``lambdarank`` ranker trained by ``vidrec train`` on the logged conversations, versioned beside
the collaborative model. Modules, one concern each:

* :mod:`~agent.learn.reading`: what the dialogue says about the catalogue's metadata (rules);
* :mod:`~agent.learn.features`: the feature rows;
* :mod:`~agent.learn.model`: the ranker (fit, score, save, load);
* :mod:`~agent.learn.store`: versions on disk;
* :mod:`~agent.learn.stage`: the stage of a turn;
* :mod:`~agent.learn.cases`: the ranking cases of logged conversations;
* :mod:`~agent.learn.training`: ``vidrec train``'s part.
"""
