from srcbuild.cli import main

raise SystemExit(main())
