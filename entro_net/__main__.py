"""``python -m entro_net`` runs the ``entro-net`` command."""

import sys

from entro_net.cli.main import main

sys.exit(main())
