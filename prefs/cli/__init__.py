"""Operator commands, one module per group: `flask --app app keys|recipients|suppressions|dnc|providers|staff|partitions …` and
`flask --app app demo`, `flask --app app worker`, `flask --app app serve`. The factory registers COMMANDS (prefs.register_cli)."""

from __future__ import annotations

from .demo import demo
from .dnc import dnc_cli
from .keys import keys_cli
from .partitions import partitions_cli
from .providers import providers_cli
from .recipients import recipients_cli
from .serve import serve
from .staff import staff_cli
from .suppressions import suppressions_cli
from .worker import worker

COMMANDS = (keys_cli, recipients_cli, suppressions_cli, dnc_cli, providers_cli, demo, staff_cli, worker, serve, partitions_cli)
