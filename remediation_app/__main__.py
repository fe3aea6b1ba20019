from remediation_app.cli import main

raise SystemExit(main())
