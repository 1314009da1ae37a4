"""Adoption: bringing a running bot's scheduled work over, and moving a server's data in and out.

Importers for CastBot's `scheduledJobs.json` and `data_whispers.json` (castbot.py) and EPYC's
`ScheduledJob` rows (epyc.py); one server's export document and its import into the same or
another server (server.py); the operators' command line, `python -m adoption` (cli.py). Every
import goes through the features' clients, under ids derived from the originals', reports each
entry (report.py) and can be tried first as a dry run that changes nothing.
"""
