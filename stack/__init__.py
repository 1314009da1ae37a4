"""What the worker, the bot and the tools share: settings and the Temporal connection."""
