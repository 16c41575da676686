"""Adapters over the retrieval core: the terminal REPL and the Telegram bot."""
