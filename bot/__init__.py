"""The discord.py gateway bot: a Temporal client only; it never keeps a timer."""
