"""LLM backends, conversation state, users and histories, ranking and the ``Recommender`` facade.

Knows no HTTP and no widgets.
"""
