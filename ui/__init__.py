"""People-facing surfaces: the `vidrec` CLI and the Gradio chat app."""
