from microgrboard.cli import main

raise SystemExit(main())
