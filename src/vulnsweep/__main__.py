from vulnsweep.cli import main

raise SystemExit(main())
