import sys

from gpugrant_cli.main import main

sys.exit(main())
