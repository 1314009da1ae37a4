"""Discord components that more than one process builds: the worker posts them, the bot answers
them (its DynamicItems wrap these same builders), so a custom_id is written in one place."""
