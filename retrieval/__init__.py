"""Media decoding, transcription, chunking, embedding, vector + lexical search and the catalogue.

Knows nothing of LLMs, users or HTTP.
"""
