from orintui.cli import main

raise SystemExit(main())
