"""The motion library (store, ANN index, lock, indexing, search) and what asks one motion (caption, localize).

Never imports typer or rich: progress reaches the caller through callbacks."""
