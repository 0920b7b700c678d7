"""`python -m bot.simulator`: the simulator without the bot's CLI."""

import sys

from bot.simulator.cli import main

sys.exit(main())
