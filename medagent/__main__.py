import sys

from medagent.cli import main

sys.exit(main())
