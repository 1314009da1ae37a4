"""Every side effect: Discord posts, webhooks, DMs. Activities get their discord.py client handed in."""
