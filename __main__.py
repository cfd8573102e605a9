"""``python -m normscope``: the same entry point as the ``normscope`` command."""

from normscope.main import main

raise SystemExit(main())
