"""One discord.py extension per feature; `bot.app.FEATURES` lists which ones load."""
