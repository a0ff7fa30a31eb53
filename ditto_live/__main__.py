from ditto_live.cli import main

raise SystemExit(main())
